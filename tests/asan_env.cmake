# Included by ctest after the discovered tests are defined: lets ASan return null (then
# std::bad_alloc -> arx::memory_error) for impossible allocation sizes instead of aborting.
get_property(arx_all_tests DIRECTORY PROPERTY TESTS)
foreach(t IN LISTS arx_all_tests)
  set_property(TEST "${t}" APPEND PROPERTY ENVIRONMENT "ASAN_OPTIONS=allocator_may_return_null=1")
endforeach()
