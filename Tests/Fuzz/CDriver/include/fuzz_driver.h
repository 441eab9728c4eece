#ifndef GW_FUZZ_DRIVER_H
#define GW_FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>
/* libFuzzer's driver (compiler-rt, linked by -sanitize=fuzzer). SwiftPM names an executable's
 * entry point <module>_main and aliases main to it, which hides libFuzzer's own main; so the
 * fuzz driver's entry point calls this instead. */
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif
