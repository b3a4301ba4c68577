// Prints, as JSON, what npm's lcov-parse reads from a tracefile: one entry per section,
// exactly as the library returns it (NaN, which JSON cannot hold, becomes null).
// Usage: node lcov_parse.js NODE_PREFIX TRACEFILE, where NODE_PREFIX holds node_modules/.
"use strict";
const fs = require("node:fs");

const [prefix, tracefile] = process.argv.slice(2);
// lcov-parse parses its argument as LCOV text when no such file exists: make sure it does.
if (!fs.existsSync(tracefile)) {
    console.error(`lcov_parse.js: no such file: ${tracefile}`);
    process.exit(2);
}
const parse = require(require.resolve("lcov-parse", { paths: [prefix] }));
parse(tracefile, (error, data) => {
    if (error) {
        console.error(`lcov-parse: ${error}`);
        process.exit(1);
    }
    process.stdout.write(JSON.stringify(data));
});
