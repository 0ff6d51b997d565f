# cpack (in the build directory): a Debian package of what
# cmake/Install.cmake installs, its dependencies found by dpkg-shlibdeps.
# Configure with -DCMAKE_INSTALL_PREFIX=/usr for a package in Debian's
# layout (the service unit names the configured bindir).
set(CPACK_PACKAGE_NAME respct)
set(CPACK_PACKAGE_VENDOR "the respct developers")
set(CPACK_PACKAGE_CONTACT "respct developers <respct@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "fault tolerance for unmodified multithreaded programs, in remote persistent memory")
set(CPACK_PACKAGE_DESCRIPTION
    "respct runs an ordinary, already compiled multithreaded program so that it survives kill -9: every few "
    "milliseconds it ships the cache lines the program changed to a memory node (respct-memnode), and "
    "respct-recover resumes the program, threads and all, from the last committed epoch.")
string(JOIN "" CPACK_PACKAGE_DESCRIPTION ${CPACK_PACKAGE_DESCRIPTION})
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
# /etc/default/respct-memnode is installed by absolute path.
set(CPACK_SET_DESTDIR ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# /etc/default/respct-memnode is the admin's to edit: keep it across upgrades.
file(WRITE ${CMAKE_BINARY_DIR}/dist/conffiles "/etc/default/respct-memnode\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/dist/conffiles)
include(CPack)
