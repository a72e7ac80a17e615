/**
 * `npm run bench [-- --quick]` — see bench/README.md.
 *
 * graphql-js reads NODE_ENV once, when it is first imported: outside `production` every
 * `instanceOf` check also inspects `Symbol.toStringTag` to detect duplicate graphql copies, which
 * costs a third or more of a nested query's execution. Production servers run with
 * NODE_ENV=production, so the benchmark does too unless NODE_ENV is set explicitly; the value used
 * is printed with the results. Hence this launcher: it must run before anything imports graphql.
 */
process.env.NODE_ENV ??= 'production';
await import('./main.js');
