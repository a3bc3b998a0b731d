# Warnings apply to vigil's own code only; generated protobuf code is compiled without them.
function(vigil_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow=local
                                           -Wnon-virtual-dtor -Wno-unused-parameter)
  if(VIGIL_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# vigil_allocator(target): the process allocator of a server or benchmark binary — jemalloc
# unless VIGIL_JEMALLOC is off or the sanitizers are on (CMakeLists.txt).
function(vigil_allocator target)
  if(VIGIL_JEMALLOC AND NOT VIGIL_SANITIZE)
    target_link_libraries(${target} PRIVATE PkgConfig::JEMALLOC)
  endif()
endfunction()

# vigil_library(name SOURCES ... DEPS ...): one small library per directory, with explicit deps.
function(vigil_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  vigil_warnings(${name})
endfunction()

# vigil_test(name LABELS ... SOURCES ... DEPS ... [TIMEOUT s] [OWN_MAIN]): a GoogleTest binary
# registered with ctest under the given labels (unit, integration, e2e, fuzz). OWN_MAIN: the
# sources define main() (e.g. to re-execute themselves as a child process).
function(vigil_test name)
  cmake_parse_arguments(ARG "OWN_MAIN" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} vigil_test_support)
  if(ARG_OWN_MAIN)
    target_link_libraries(${name} PRIVATE GTest::gmock)
  else()
    target_link_libraries(${name} PRIVATE GTest::gmock_main)
  endif()
  vigil_warnings(${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  # Unit and integration binaries are also labelled `core`: the C++ tests that need no running
  # vigild, which CI runs again under the sanitizers (./x test --sanitize --core).
  set(labels ${ARG_LABELS})
  if("unit" IN_LIST labels OR "integration" IN_LIST labels)
    list(APPEND labels core)
    set_property(GLOBAL APPEND PROPERTY VIGIL_CORE_TESTS ${name})
  endif()
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "${labels}" TIMEOUT ${ARG_TIMEOUT}
                       ENVIRONMENT "VIGIL_BUILD_DIR=${PROJECT_BINARY_DIR}")
endfunction()
