/* Stand-in for <setjmp.h> (wasi-libc has none; see ../nothrow.h): ldo.c includes it, but
   with LUAI_THROW/LUAI_TRY defined nothing from it is used. */
