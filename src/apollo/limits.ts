import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import {
  type GraphQLCompositeType,
  GraphQLError,
  type GraphQLOutputType,
  type ValidationRule,
} from 'graphql';
// The CommonJS build on purpose: it loads graphql the way Node loads it for Apollo Server
// (graphql 16 has no exports map, so every Node importer gets its CommonJS build). The ESM build
// would, under tools that read graphql's `module` field (vite, vitest), get a second copy of
// graphql and fail its "from another module or realm" checks on Apollo's schema.
import { type ComplexityEstimatorArgs, getComplexity } from 'graphql-query-complexity/cjs';
import { InvalidOptionError } from '../errors.js';

/** Which limit refused an operation, and by how much. See {@link QueryLimitsOptions.onRefused}. */
export interface QueryRefusal {
  readonly limit: 'depth' | 'cost';
  /** The message sent to the client. */
  readonly message: string;
}

/** Options of {@link createQueryLimits}. */
export interface QueryLimitsOptions {
  /**
   * Deepest selection accepted, counting every field level (`{ a { b { c } } }` is 3). Default
   * `10`: deep enough for nested reads such as
   * `questions → edges → node → choices → voters → votes → question → text` (8 levels). Introspection
   * (`__schema`) is not counted. `Infinity` turns the depth limit off.
   */
  maxDepth?: number;
  /**
   * Largest estimated cost accepted. Default `20_000`. The cost of a field is 1 plus the cost of
   * its selection times its list size: `first` (or {@link listSizeArgument}) when the query gives
   * it (or the argument's schema default), else {@link defaultListSize} for a list type; `edges`
   * and `nodes` of a type named `…Connection` are the page their parent's `first` already
   * counted. So `questions(first: 2) { nodes { text choices { choiceText voters { username } } }
   * }` costs 1 + 2 × (1 + 1 + 1 + 10 × (1 + 1 + 10 × 1)) = 247; the same with `first: 100` costs
   * 12,301; and `question → choices → question → choices → …` multiplies by 10 per `choices`,
   * so seven levels already cost 24,442. `Infinity` turns the cost limit off.
   */
  maxCost?: number;
  /**
   * The size assumed for a list whose size the query does not set (`choices`, `voters` without
   * `first`). Default `10`. Set it near your typical related-list length: too low lets wide
   * queries through, too high refuses ordinary ones.
   */
  defaultListSize?: number;
  /** The argument that sets a list's size. Default `'first'`. */
  listSizeArgument?: string;
  /** Called with every refusal, for logs and metrics. Default: none. */
  onRefused?(refusal: QueryRefusal): void;
}

/** What {@link createQueryLimits} returns: give both to the `ApolloServer`. */
export interface QueryLimits<Context extends BaseContext = BaseContext> {
  /** The depth rule, for `new ApolloServer({ validationRules })`. */
  readonly validationRules: ValidationRule[];
  /** The cost check, for `new ApolloServer({ plugins })`. */
  readonly plugin: ApolloServerPlugin<Context>;
  /** The resolved limits (defaults applied), for logs and docs. */
  readonly options: Readonly<Required<Omit<QueryLimitsOptions, 'onRefused'>>>;
}

function checkLimit(name: string, value: number): number {
  if (value !== Number.POSITIVE_INFINITY && (!Number.isSafeInteger(value) || value < 1)) {
    throw new InvalidOptionError(
      `createQueryLimits: options.${name} must be a positive integer or Infinity, got ${String(value)}`,
      { context: { option: name } },
    );
  }
  return value;
}

// From the type's printed form (`[Choice!]!`) rather than graphql's `isListType`, which throws on
// a type from another copy of graphql (see the import above).
function isListField(type: GraphQLOutputType): boolean {
  return String(type).startsWith('[');
}

/**
 * Query depth and cost limits for Apollo Server, so that one small query cannot take the server
 * down (`question → choices → question → …` multiplies work per level: a 262-byte query of depth
 * 10 took 28 s and 800 MB before this existed). Both refuse an operation before any resolver,
 * loader or SQL runs:
 *
 * - **depth**: graphql-armor's `maxDepthRule`, a validation rule — refused with
 *   `GRAPHQL_VALIDATION_FAILED` (HTTP 400) while the document is validated;
 * - **cost**: graphql-query-complexity's `getComplexity`, with list sizes taken from `first`
 *   arguments (see {@link QueryLimitsOptions.maxCost}). It runs in the plugin's
 *   `didResolveOperation`, right after validation and before execution, because a cost depends on
 *   the request's variables (`first: $n`) and Apollo validates a document once for all its
 *   variable values. Refused with `GRAPHQL_VALIDATION_FAILED` (HTTP 400) and
 *   `extensions: { cost, maxCost }`. Operations whose variables are invalid are left to Apollo,
 *   which refuses them as `BAD_USER_INPUT` before execution.
 *
 * @example
 * const limits = createQueryLimits({ maxDepth: 10, maxCost: 20_000 });
 * new ApolloServer({ typeDefs, resolvers, validationRules: limits.validationRules, plugins: [limits.plugin] });
 */
export function createQueryLimits<Context extends BaseContext = BaseContext>(
  options: QueryLimitsOptions = {},
): QueryLimits<Context> {
  const maxDepth = checkLimit('maxDepth', options.maxDepth ?? 10);
  const maxCost = checkLimit('maxCost', options.maxCost ?? 20_000);
  const defaultListSize = options.defaultListSize ?? 10;
  if (!Number.isSafeInteger(defaultListSize) || defaultListSize < 0) {
    throw new InvalidOptionError(
      `createQueryLimits: options.defaultListSize must be a non-negative integer, got ${String(defaultListSize)}`,
      { context: { option: 'defaultListSize' } },
    );
  }
  const listSizeArgument = options.listSizeArgument ?? 'first';
  if (typeof listSizeArgument !== 'string' || listSizeArgument === '') {
    throw new InvalidOptionError(
      `createQueryLimits: options.listSizeArgument must be an argument name, got ${String(listSizeArgument)}`,
      { context: { option: 'listSizeArgument' } },
    );
  }
  const onRefused = options.onRefused;

  const validationRules: ValidationRule[] = [];
  if (maxDepth !== Number.POSITIVE_INFINITY) {
    validationRules.push(
      maxDepthRule({
        n: maxDepth,
        ignoreIntrospection: true,
        // Report through the validation context (Apollo answers 400) instead of throwing out of
        // graphql-js' validate().
        propagateOnRejection: false,
        onReject: [
          (context, error) => {
            const message = error.message.replace(/^Syntax Error: /, '');
            context?.reportError(new GraphQLError(message));
            onRefused?.({ limit: 'depth', message });
          },
        ],
      }) as ValidationRule,
    );
  }

  function estimate({ field, type, args, childComplexity }: ComplexityEstimatorArgs): number {
    if (field.name.startsWith('__')) return 0; // introspection
    const size = args[listSizeArgument];
    let multiplier = 1;
    if (typeof size === 'number' && Number.isFinite(size)) multiplier = Math.max(0, size);
    else if ((field.name === 'edges' || field.name === 'nodes') && isConnection(type)) multiplier = 1;
    else if (isListField(field.type)) multiplier = defaultListSize;
    return 1 + multiplier * childComplexity;
  }

  const plugin: ApolloServerPlugin<Context> = {
    async requestDidStart() {
      if (maxCost === Number.POSITIVE_INFINITY) return;
      return {
        async didResolveOperation({ request, document, schema, operationName }) {
          let cost: number;
          try {
            cost = getComplexity({
              schema,
              query: document,
              variables: request.variables ?? {},
              ...(operationName ? { operationName } : {}),
              estimators: [estimate],
            });
          } catch (error) {
            // Invalid variables: Apollo refuses the operation (BAD_USER_INPUT, naming the
            // variable) when it coerces them, before execution.
            if (/^Variable "\$/.test((error as Error).message)) return;
            // Otherwise graphql-query-complexity gave up, typically on more than 10,000 field
            // nodes (fragments expanded), which is how a fragment bomb looks.
            const message = `Query too large to estimate: ${(error as Error).message}`;
            onRefused?.({ limit: 'cost', message });
            throw new GraphQLError(message, {
              extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400 } },
            });
          }
          if (cost > maxCost) {
            const message = `Query cost ${cost} exceeds the maximum of ${maxCost}: ask for smaller pages (${listSizeArgument}) or fewer nested lists`;
            onRefused?.({ limit: 'cost', message });
            throw new GraphQLError(message, {
              extensions: { code: 'GRAPHQL_VALIDATION_FAILED', cost, maxCost, http: { status: 400 } },
            });
          }
        },
      };
    },
  };

  return { validationRules, plugin, options: { maxDepth, maxCost, defaultListSize, listSizeArgument } };
}

function isConnection(type: GraphQLCompositeType): boolean {
  return type.name.endsWith('Connection');
}
