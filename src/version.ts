/** The library version, sent in the default `User-Agent: pooled/<version>`. */
export const VERSION = "0.1.0";
