// Substring search for both SQL backends: `text` as a LIKE pattern matching it anywhere, its own
// `%`, `_` and `\` escaped with `\` (state `ESCAPE '\'` in the query: SQLite has no default).

export const likeSubstring = (text: string): string => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
