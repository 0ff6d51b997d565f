#include "tools/launch/recover_program.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "runtime/base/make_dirs.h"
#include "runtime/transport/default_paths.h"
#include "runtime/transport/secret.h"
#include "tools/launch/at_random_exec.h"
#include "tools/launch/image_fetch.h"

namespace respct::launch {

namespace {

Result<Secret> MemnodeSecret(const RunOptions& o) {
  std::string secret_file = o.secret_file;
  if (secret_file.empty()) {
    const char* env = std::getenv("RESPCT_SECRET_FILE");
    secret_file = env != nullptr && *env != '\0' ? env : DefaultSecretPath();
  }
  auto secret = Secret::FromFile(secret_file);
  if (!secret.ok()) return secret.status().Annotate("memnode secret");
  return secret;
}

// What the memnode holds of the app (ProbeImage with the run's memnode,
// secret and app name).
Result<ImageProbe> ProbeApp(const RunOptions& o) {
  auto secret = MemnodeSecret(o);
  if (!secret.ok()) return secret.status();
  ImageFetchOptions probe_options;
  probe_options.memnode = o.memnode;
  probe_options.commit_quorum = o.commit_quorum;
  probe_options.secret = secret.value();
  probe_options.app = o.app();
  return ProbeImage(probe_options);
}

// Whether the memnode holds the image of a run of the app that exited (its
// committed epoch in *epoch). A memnode that cannot be asked (unreachable,
// another secret) counts as no: the shim then says in one line why it cannot
// start.
bool HoldsFinishedRun(const RunOptions& o, uint64_t* epoch) {
  auto probe = ProbeApp(o);
  if (!probe.ok() || !probe->present || probe->committed_epoch == 0 || !probe->exited) return false;
  *epoch = probe->committed_epoch;
  return true;
}

}  // namespace

Status ResumeOrStart(RunOptions* o, const char* tool) {
  auto launch = PrepareLaunch(o, tool);  // starts the embedded memnode if need be
  if (!launch.ok()) return launch.status();
  auto probe = ProbeApp(*o);
  if (!probe.ok()) return probe.status();
  if (probe->present && probe->committed_epoch != 0 && !probe->exited)
    return RecoverProgram(o, 0, tool);  // says "resuming app ... at epoch N"
  const char* why = !probe->present                ? "no image of it on the memnode"
                    : probe->committed_epoch == 0 ? "its image has no committed epoch (the last run ended before its first checkpoint)"
                                                  : "its last run exited";
  std::fprintf(stderr, "%s: starting app '%s' fresh: %s\n", tool, o->app().c_str(), why);
  if (!o->fresh) launch->env.emplace_back("RESPCT_FRESH", "1");
  return ExecProgram(launch.value());
}

Status StartProgram(RunOptions* o, const char* tool) {
  auto launch = PrepareLaunch(o, tool);  // starts the embedded memnode if need be
  if (!launch.ok()) return launch.status();
  uint64_t epoch = 0;
  if (!o->fresh && HoldsFinishedRun(*o, &epoch)) {
    std::fprintf(stderr, "%s: replacing the image of app '%s' (epoch %llu): its last run exited\n", tool,
                 o->app().c_str(), static_cast<unsigned long long>(epoch));
    launch->env.emplace_back("RESPCT_FRESH", "1");
  }
  return ExecProgram(launch.value());
}

Status RecoverProgram(RunOptions* o, uint64_t epoch, const char* tool) {
  auto launch = PrepareLaunch(o, tool);
  if (!launch.ok()) return launch.status();
  auto secret = MemnodeSecret(*o);
  if (!secret.ok()) return secret.status();

  const std::string dir = DefaultStateDir() + "/recovery";
  RESPCT_RETURN_IF_ERROR(MakeDirs(dir));
  ImageFetchOptions fetch;
  fetch.memnode = o->memnode;
  fetch.commit_quorum = o->commit_quorum;
  fetch.take_over = o->take_over;
  fetch.secret = secret.value();
  fetch.app = o->app();
  fetch.path = dir + "/" + fetch.app + "." + std::to_string(getpid()) + ".image";
  fetch.epoch = epoch;
  fetch.progress = true;
  auto image = FetchImage(fetch);
  if (!image.ok()) return image.status();
  std::fprintf(stderr, "%s: resuming app '%s' at epoch %llu: %u thread(s), %.1f MiB read in %.2f s\n", tool,
               fetch.app.c_str(), static_cast<unsigned long long>(image->epoch), image->threads,
               static_cast<double>(image->bytes) / (1 << 20), image->seconds);
  launch->env.emplace_back("RESPCT_APP", fetch.app);
  launch->env.emplace_back("RESPCT_RECOVER", fetch.path);
  Status st = ArrangeAtRandomForExec(image->at_random);
  if (st.ok()) st = ExecProgram(launch.value());
  unlink(fetch.path.c_str());
  return st;
}

}  // namespace respct::launch
