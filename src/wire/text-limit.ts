// The text limit on its own, with no imports, so the web UI (a browser bundle) uses this same
// definition to refuse an over-long message before sending it.

/** Text limit: 32 KiB of UTF-8 keeps a text message (with libsignal's overhead) inside the 64 KiB
 * envelope bucket with room to spare. */
export const MAX_TEXT_BYTES = 32 * 1024
