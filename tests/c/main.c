/* C API test: runs every group against the fixture written by
 *   cargo run -p weft-ffi --example ffi_fixture -- <dir>
 * Usage: weft_test <dir>. Built against both libweft_ffi.so and libweft_ffi.a (scripts/test-ffi.sh). */
#include "check.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s <fixture dir>\n", argv[0]);
        return 2;
    }
    fixture fx;
    if (fixture_load(&fx, argv[1]) != 0) return 2;
    printf("weft %s\n", weft_version());
    test_model(&fx);
    test_text(&fx);
    test_session(&fx);
    test_state(&fx);
    test_threads(&fx);
    test_sensor(&fx);
    printf("weft_test: %d passed, %d failed\n", checks_passed, checks_failed);
    return checks_failed == 0 ? 0 : 1;
}
