/* Wine 8 (Debian 12) lacks bcryptprimitives.dll, which Rust's standard library for Windows
 * imports for ProcessPrng (random hash seeds). This stand-in gives the one function, from
 * RtlGenRandom, for the emulated test run of .ci/cross only. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG n = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
    if (!SystemFunction036(data, n)) return FALSE;
    data += n;
    len -= n;
  }
  return TRUE;
}
