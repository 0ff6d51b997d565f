# What `cmake --install` and cpack put where (Debian's layout with
# CMAKE_INSTALL_PREFIX=/usr, which the .deb uses):
#   bin/respct-run, respct-recover, respct-inspect, respct-memnode
#   lib/respct/librespct.so            the preload library (private: found by
#                                      the tools relative to their own path)
#   share/man/man1, man8               man pages made from the tools' --help
#                                      (help2man; left out when it is missing),
#                                      gzip -9n'd as Debian policy asks
#   lib/systemd/system/respct-memnode.service
#   /etc/default/respct-memnode        (SYSCONFDIR: /etc for the /usr prefix)
# Tests, benchmarks and examples are not installed.
include(GNUInstallDirs)

# The preload library's place relative to the tools (tools/launch reads it).
set(RESPCT_INSTALLED_LIBRARY "${CMAKE_INSTALL_LIBDIR}/respct/librespct.so")

function(respct_install_all)
  install(TARGETS respct-run respct-recover respct-inspect respct-memnode RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(TARGETS respct LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/respct)

  set(RESPCT_DEFAULTS_FILE "${CMAKE_INSTALL_FULL_SYSCONFDIR}/default/respct-memnode")
  configure_file(${PROJECT_SOURCE_DIR}/dist/respct-memnode.service.in ${CMAKE_BINARY_DIR}/dist/respct-memnode.service
                 @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/dist/respct-memnode.service DESTINATION lib/systemd/system)
  # Absolute: with the /usr prefix this is /etc, not /usr/etc (DESTDIR still applies).
  install(FILES ${PROJECT_SOURCE_DIR}/dist/respct-memnode.default DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/default
          RENAME respct-memnode)

  find_program(HELP2MAN help2man)
  if(NOT HELP2MAN)
    message(STATUS "help2man not found: no man pages (tools/install-deps.sh installs it)")
    return()
  endif()
  set(pages)
  foreach(spec IN ITEMS "respct-run|1|run a program so that it survives kill -9"
                        "respct-recover|1|resume a program from its last committed epoch"
                        "respct-inspect|1|show what a respct memnode keeps, and replay it"
                        "respct-memnode|8|the memory node of respct")
    string(REPLACE "|" ";" parts "${spec}")
    list(GET parts 0 tool)
    list(GET parts 1 section)
    list(GET parts 2 summary)
    set(page ${CMAKE_BINARY_DIR}/man/${tool}.${section})
    # -n: no name or time stamp in the header, so the page is reproducible.
    add_custom_command(OUTPUT ${page}.gz
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
      COMMAND ${HELP2MAN} --no-info --no-discard-stderr --section=${section} "--name=${summary}"
              --version-string=${PROJECT_VERSION} --output=${page} $<TARGET_FILE:${tool}>
      COMMAND gzip -9nf ${page}
      DEPENDS ${tool}
      COMMENT "Man page ${tool}(${section}) from its --help"
      VERBATIM)
    list(APPEND pages ${page}.gz)
    install(FILES ${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
  endforeach()
  add_custom_target(respct_man_pages ALL DEPENDS ${pages})
endfunction()
