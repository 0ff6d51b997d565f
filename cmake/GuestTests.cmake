# The QEMU guest test tier (label rdma): commands that need Soft-RoCE or real
# PMem, which this host lacks, run inside one guest booted by
# tools/vm/run-in-guest.sh --pmem. A guest boot costs 20-60 s under TCG, so
# every registered command runs in ONE boot per ctest run:
#
#   rdma_guest_boot   (FIXTURES_SETUP respct_guest) boots the guest and runs
#                     every registered command in turn, each under its own
#                     timeout, leaving <name>.log and <name>.rc in
#                     ${RESPCT_GUEST_TEST_DIR}/results; skipped when the guest
#                     cannot start (packages missing, no boot).
#   <name>            (FIXTURES_REQUIRED respct_guest, label rdma) prints that
#                     command's log and passes or fails on its exit status,
#                     or is skipped, with the reason, when the guest could not
#                     start.
#
# tests/rdma/README.md says how to add a test and run the tier by hand.

set(RESPCT_GUEST_TEST_DIR ${CMAKE_BINARY_DIR}/guest-tests)
set(RESPCT_GUEST_PMEM_SIZE 2G CACHE STRING "Size of the emulated NVDIMM of the rdma test tier's guest")
set(RESPCT_GUEST_SKIP_CODE 77)
define_property(GLOBAL PROPERTY RESPCT_GUEST_TESTS
                BRIEF_DOCS "name|timeout|needs pmem|working directory of each guest test, in registration order")

# respct_add_guest_test(NAME <name> COMMAND <command> [<arg>...]
#                       [TIMEOUT <seconds>] [WORKING_DIRECTORY <dir>] [PMEM])
#
# Registers COMMAND to run inside the guest, as root, with the ctest
# environment plus RESPCT_GUEST_RDMA_DEV (the rxe device) and, with PMEM,
# RESPCT_GUEST_PMEM_DIR (an ext4 -o dax mount: libpmem2 maps real PMem with
# MAP_SYNC there). Arguments may use generator expressions
# ($<TARGET_FILE:respct-memnode>); one argument must not span lines.
# TIMEOUT (default 300) is guest wall time, generous: TCG is 10-30 times
# slower than the host and slower still on a busy machine. WORKING_DIRECTORY
# defaults to the calling directory's build directory.
function(respct_add_guest_test)
  cmake_parse_arguments(PARSE_ARGV 0 arg "PMEM" "NAME;TIMEOUT;WORKING_DIRECTORY" "COMMAND")
  if(NOT arg_NAME OR NOT arg_COMMAND)
    message(FATAL_ERROR "respct_add_guest_test needs NAME and COMMAND")
  endif()
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "respct_add_guest_test(${arg_NAME}): unexpected arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_NAME MATCHES "^[A-Za-z0-9_.-]+$")
    message(FATAL_ERROR "respct_add_guest_test: NAME '${arg_NAME}' must be letters, digits, '_', '.', '-'")
  endif()
  if(NOT arg_TIMEOUT)
    set(arg_TIMEOUT 300)
  endif()
  if(NOT arg_WORKING_DIRECTORY)
    set(arg_WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  endif()
  set(needs_pmem 0)
  if(arg_PMEM)
    set(needs_pmem 1)
  endif()

  # One argument a line: the guest-side runner reads it back as an argv.
  list(JOIN arg_COMMAND "\n" argv_lines)
  file(GENERATE OUTPUT ${RESPCT_GUEST_TEST_DIR}/tests/${arg_NAME}.argv CONTENT "${argv_lines}\n")
  set_property(GLOBAL APPEND PROPERTY RESPCT_GUEST_TESTS
               "${arg_NAME}|${arg_TIMEOUT}|${needs_pmem}|${arg_WORKING_DIRECTORY}")

  add_test(NAME ${arg_NAME}
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/rdma/guest-result.sh ${RESPCT_GUEST_TEST_DIR}/results ${arg_NAME})
  # It only reports what the boot test recorded: a minute is plenty.
  set_tests_properties(${arg_NAME} PROPERTIES LABELS rdma FIXTURES_REQUIRED respct_guest TIMEOUT 60
                                              SKIP_RETURN_CODE ${RESPCT_GUEST_SKIP_CODE})
endfunction()

# Called once, after every directory had its say: writes the batch's list and
# adds the test that boots the guest.
function(respct_add_guest_boot_test)
  get_property(tests GLOBAL PROPERTY RESPCT_GUEST_TESTS)
  if(NOT tests)
    return()
  endif()
  set(list_text "")
  set(total_timeout 0)
  set(any_pmem 0)
  foreach(entry IN LISTS tests)
    string(APPEND list_text "${entry}\n")
    string(REPLACE "|" ";" fields "${entry}")
    list(GET fields 1 timeout)
    list(GET fields 2 needs_pmem)
    math(EXPR total_timeout "${total_timeout} + ${timeout}")
    if(needs_pmem)
      set(any_pmem 1)
    endif()
  endforeach()
  file(WRITE ${RESPCT_GUEST_TEST_DIR}/tests.list "${list_text}")
  set(pmem_flag "")
  if(any_pmem)
    set(pmem_flag --pmem ${RESPCT_GUEST_PMEM_SIZE})
  endif()
  # Boot, set-up and power-off get 10 minutes on top of the tests' own time;
  # ctest waits a minute longer, so that run-in-guest.sh's timeout, which
  # says what happened, fires first.
  math(EXPR guest_timeout "${total_timeout} + 600")
  math(EXPR ctest_timeout "${guest_timeout} + 60")
  add_test(NAME rdma_guest_boot
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/rdma/guest-batch.sh
                   ${PROJECT_SOURCE_DIR}/tools/vm/run-in-guest.sh ${RESPCT_GUEST_TEST_DIR} ${guest_timeout} ${pmem_flag})
  # PROCESSORS 2: the guest's two vCPUs are two busy host threads; under
  # ctest -j2 nothing else runs beside it, so neither starves the other.
  set_tests_properties(rdma_guest_boot PROPERTIES LABELS rdma FIXTURES_SETUP respct_guest PROCESSORS 2
                                                  TIMEOUT ${ctest_timeout} SKIP_RETURN_CODE ${RESPCT_GUEST_SKIP_CODE})
endfunction()
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL respct_add_guest_boot_test)
