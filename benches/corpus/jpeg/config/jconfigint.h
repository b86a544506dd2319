/* jconfigint.h for mozjpeg, as mozjpeg-sys's build.rs writes it (fixed BUILD string, no
   thread-local storage: single-threaded wasm32-wasi). */
#define BUILD "corpus-mozjpeg-sys"
#define INLINE inline __attribute__((always_inline))
#define HIDDEN __attribute__((visibility("hidden")))
#define THREAD_LOCAL
#if defined(__wasm32__) || defined(__i386__)
#define SIZEOF_SIZE_T 4
#else
#define SIZEOF_SIZE_T 8
#endif
#define HAVE_BUILTIN_CTZL 1
#define FALLTHROUGH
#define PACKAGE_NAME "mozjpeg-sys"
#define VERSION "2.2.3"
