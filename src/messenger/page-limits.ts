// How many messages one page of a conversation holds. A module with no imports: the API, the CLI and the web page
// read these without loading the messenger (test/api/lazy-start.test.ts) or anything of Node (the web build).

/** Largest page of a contact's messages() (a caller asking for more gets this many). */
export const MAX_PAGE = 1000
/** Page size of a contact's messages() when the caller names none. */
export const DEFAULT_PAGE = 200
/** A group's page (groups/manager.ts messages()): its size when none is named, and the most one call returns. */
export const GROUP_PAGE = 200
export const MAX_GROUP_PAGE = 1000
