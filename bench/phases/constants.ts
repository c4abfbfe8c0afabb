// Limits more than one phase shares: the page a feed load asks for, and the connections of the
// read:write mix (also the L2 target's concurrency).

/** The API's default page: what a feed load asks for. */
export const PAGE = 20;
/** Connections of the mix (the L2 target's concurrency) and of L2 vs raw Redis. */
export const MIX_CONNECTIONS = 32;
