// Where respct keeps its state when the user names nothing: the embedded
// default memnode's pool, its secret and its socket. respct-run,
// respct-recover, respct-inspect and respct-memnode all agree through these
// functions, so `respct-run -- ./prog` and a later `respct-recover -- ./prog`
// find the same pool with no flags.
//
//   state dir  $RESPCT_STATE_DIR, else $XDG_STATE_HOME/respct, else ~/.local/state/respct
//   pool       <state dir>/pool
//   secret     $RESPCT_SECRET_FILE, else <state dir>/secret
//   socket     <state dir>/memnode.sock   (the shm:// URL of the default memnode)
#pragma once

#include <string>

namespace respct {

std::string DefaultStateDir();
std::string DefaultPoolPath();
std::string DefaultSecretPath();
std::string DefaultMemnodeUrl();
// The app name a program gets when none is given: its file name.
std::string DefaultAppName(const std::string& program);  // "shm://<state dir>/memnode.sock"

}  // namespace respct
