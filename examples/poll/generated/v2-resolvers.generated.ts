import type { GraphQLResolveInfo, GraphQLScalarType, GraphQLScalarTypeConfig } from 'graphql';
import type { ChoiceRecord as ChoiceRecordEntity, QuestionV2Record as QuestionV2RecordEntity, UserV2Record as UserV2RecordEntity } from '../strategy.js';
import type { PollContext } from '../context.js';
export type Maybe<T> = T | null;
export type InputMaybe<T> = Maybe<T>;
export type Omit<T, K extends keyof T> = Pick<T, Exclude<keyof T, K>>;
export type RequireFields<T, K extends keyof T> = Omit<T, K> & { [P in K]-?: NonNullable<T[P]> };
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string | number; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
  /**
   * An instant, as an ISO-8601 string in UTC with milliseconds (2024-05-01T10:00:00.000Z). Input
   * without a zone is read as UTC; years 0001 to 9999.
   */
  DateTime: { input: Date; output: Date | string; }
};

export type Choice = {
  __typename?: 'Choice';
  choiceText: Scalars['String']['output'];
  id: Scalars['ID']['output'];
  question?: Maybe<Question>;
  /**
   * New in v2: how many users voted for this choice, computed from the cached voter ids (no query).
   * It includes votes of users who are no longer active, whom `voters` does not list.
   */
  voteCount: Scalars['Int']['output'];
  /** The users who voted for this choice, by id; `first` limits the list (at most 100). */
  voters: Array<User>;
};


export type ChoiceVotersArgs = {
  first?: InputMaybe<Scalars['Int']['input']>;
};

export type Mutation = {
  __typename?: 'Mutation';
  /** Adds a choice to a question (BAD_USER_INPUT if there is no such question, or the viewer may not see it). */
  addChoice: Choice;
  /** Creates a question, optionally with its choices. `pubDate` defaults to now. */
  createQuestion: Question;
  /** Deletes a choice and its votes; false if there was no such choice. */
  deleteChoice: Scalars['Boolean']['output'];
  /** Removes a user's vote for a choice. */
  unvote?: Maybe<Choice>;
  /**
   * Changes a question's text or publication date; null if there is no such question (or the viewer
   * may not see it). Only staff can set a date in the future.
   */
  updateQuestion?: Maybe<Question>;
  /** Records a user's vote for a choice (voting twice is one vote). */
  vote?: Maybe<Choice>;
};


export type MutationAddChoiceArgs = {
  choiceText: Scalars['String']['input'];
  questionId: Scalars['ID']['input'];
};


export type MutationCreateQuestionArgs = {
  choices?: InputMaybe<Array<Scalars['String']['input']>>;
  pubDate?: InputMaybe<Scalars['DateTime']['input']>;
  text: Scalars['String']['input'];
};


export type MutationDeleteChoiceArgs = {
  id: Scalars['ID']['input'];
};


export type MutationUnvoteArgs = {
  choiceId: Scalars['ID']['input'];
  userId: Scalars['ID']['input'];
};


export type MutationUpdateQuestionArgs = {
  id: Scalars['ID']['input'];
  pubDate?: InputMaybe<Scalars['DateTime']['input']>;
  text?: InputMaybe<Scalars['String']['input']>;
};


export type MutationVoteArgs = {
  choiceId: Scalars['ID']['input'];
  userId: Scalars['ID']['input'];
};

export type PageInfo = {
  __typename?: 'PageInfo';
  endCursor?: Maybe<Scalars['String']['output']>;
  hasNextPage: Scalars['Boolean']['output'];
};

export type Query = {
  __typename?: 'Query';
  /** One choice, or null (also when its question is not published yet). */
  choice?: Maybe<Choice>;
  /** One question, or null if there is none (or it is not published yet). */
  question?: Maybe<Question>;
  /**
   * Published questions, a page at a time: one SQL query for the page's ids, records from the
   * cache. `first` is at most 100; pass the previous page's `pageInfo.endCursor` as `after`.
   */
  questions: QuestionConnection;
  /** One active user, or null. */
  user?: Maybe<User>;
};


export type QueryChoiceArgs = {
  id: Scalars['ID']['input'];
};


export type QueryQuestionArgs = {
  id: Scalars['ID']['input'];
};


export type QueryQuestionsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  order?: InputMaybe<QuestionOrder>;
  search?: InputMaybe<Scalars['String']['input']>;
};


export type QueryUserArgs = {
  id: Scalars['ID']['input'];
};

export type Question = {
  __typename?: 'Question';
  choices: Array<Choice>;
  id: Scalars['ID']['output'];
  pubDate: Scalars['DateTime']['output'];
  /** Renamed from v1's `questionText`. */
  text: Scalars['String']['output'];
};

/** A page of questions. */
export type QuestionConnection = {
  __typename?: 'QuestionConnection';
  edges: Array<QuestionEdge>;
  nodes: Array<Question>;
  pageInfo: PageInfo;
  /**
   * How many questions the list holds across all pages (with the same filters): one COUNT query,
   * run only when this field is asked for.
   */
  totalCount?: Maybe<Scalars['Int']['output']>;
};

export type QuestionEdge = {
  __typename?: 'QuestionEdge';
  cursor: Scalars['String']['output'];
  node: Question;
};

/** The order of a question list. */
export type QuestionOrder =
  /** Latest publication date first. */
  | 'NEWEST'
  /** Earliest publication date first. */
  | 'OLDEST';

export type User = {
  __typename?: 'User';
  dateJoined: Scalars['DateTime']['output'];
  id: Scalars['ID']['output'];
  username: Scalars['String']['output'];
  /** New in v2: the choices this user voted for. */
  votes: Array<Choice>;
};



export type ResolverTypeWrapper<T> = Promise<T> | T;


export type ResolverWithResolve<TResult, TParent, TContext, TArgs> = {
  resolve: ResolverFn<TResult, TParent, TContext, TArgs>;
};
export type Resolver<TResult, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> = ResolverFn<TResult, TParent, TContext, TArgs> | ResolverWithResolve<TResult, TParent, TContext, TArgs>;

export type ResolverFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => Promise<TResult> | TResult;

export type SubscriptionSubscribeFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => AsyncIterable<TResult> | Promise<AsyncIterable<TResult>>;

export type SubscriptionResolveFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => TResult | Promise<TResult>;

export interface SubscriptionSubscriberObject<TResult, TKey extends string, TParent, TContext, TArgs> {
  subscribe: SubscriptionSubscribeFn<{ [key in TKey]: TResult }, TParent, TContext, TArgs>;
  resolve?: SubscriptionResolveFn<TResult, { [key in TKey]: TResult }, TContext, TArgs>;
}

export interface SubscriptionResolverObject<TResult, TParent, TContext, TArgs> {
  subscribe: SubscriptionSubscribeFn<any, TParent, TContext, TArgs>;
  resolve: SubscriptionResolveFn<TResult, any, TContext, TArgs>;
}

export type SubscriptionObject<TResult, TKey extends string, TParent, TContext, TArgs> =
  | SubscriptionSubscriberObject<TResult, TKey, TParent, TContext, TArgs>
  | SubscriptionResolverObject<TResult, TParent, TContext, TArgs>;

export type SubscriptionResolver<TResult, TKey extends string, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> =
  | ((...args: any[]) => SubscriptionObject<TResult, TKey, TParent, TContext, TArgs>)
  | SubscriptionObject<TResult, TKey, TParent, TContext, TArgs>;

export type TypeResolveFn<TTypes, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>> = (
  parent: TParent,
  context: TContext,
  info: GraphQLResolveInfo
) => Maybe<TTypes> | Promise<Maybe<TTypes>>;

export type IsTypeOfResolverFn<T = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>> = (obj: T, context: TContext, info: GraphQLResolveInfo) => boolean | Promise<boolean>;

export type NextResolverFn<T> = () => Promise<T>;

export type DirectiveResolverFn<TResult = Record<PropertyKey, never>, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> = (
  next: NextResolverFn<TResult>,
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => TResult | Promise<TResult>;





/** Mapping between all available schema types and the resolvers types */
export type ResolversTypes = {
  Boolean: ResolverTypeWrapper<Scalars['Boolean']['output']>;
  Choice: ResolverTypeWrapper<ChoiceRecordEntity>;
  DateTime: ResolverTypeWrapper<Scalars['DateTime']['output']>;
  ID: ResolverTypeWrapper<Scalars['ID']['output']>;
  Int: ResolverTypeWrapper<Scalars['Int']['output']>;
  Mutation: ResolverTypeWrapper<Record<PropertyKey, never>>;
  PageInfo: ResolverTypeWrapper<PageInfo>;
  Query: ResolverTypeWrapper<Record<PropertyKey, never>>;
  Question: ResolverTypeWrapper<QuestionV2RecordEntity>;
  QuestionConnection: ResolverTypeWrapper<Omit<QuestionConnection, 'edges' | 'nodes'> & { edges: Array<ResolversTypes['QuestionEdge']>, nodes: Array<ResolversTypes['Question']> }>;
  QuestionEdge: ResolverTypeWrapper<Omit<QuestionEdge, 'node'> & { node: ResolversTypes['Question'] }>;
  QuestionOrder: QuestionOrder;
  String: ResolverTypeWrapper<Scalars['String']['output']>;
  User: ResolverTypeWrapper<UserV2RecordEntity>;
};

/** Mapping between all available schema types and the resolvers parents */
export type ResolversParentTypes = {
  Boolean: Scalars['Boolean']['output'];
  Choice: ChoiceRecordEntity;
  DateTime: Scalars['DateTime']['output'];
  ID: Scalars['ID']['output'];
  Int: Scalars['Int']['output'];
  Mutation: Record<PropertyKey, never>;
  PageInfo: PageInfo;
  Query: Record<PropertyKey, never>;
  Question: QuestionV2RecordEntity;
  QuestionConnection: Omit<QuestionConnection, 'edges' | 'nodes'> & { edges: Array<ResolversParentTypes['QuestionEdge']>, nodes: Array<ResolversParentTypes['Question']> };
  QuestionEdge: Omit<QuestionEdge, 'node'> & { node: ResolversParentTypes['Question'] };
  String: Scalars['String']['output'];
  User: UserV2RecordEntity;
};

export type ChoiceResolvers<ContextType = PollContext, ParentType extends ResolversParentTypes['Choice'] = ResolversParentTypes['Choice']> = {
  choiceText?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  question?: Resolver<Maybe<ResolversTypes['Question']>, ParentType, ContextType>;
  voteCount?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  voters?: Resolver<Array<ResolversTypes['User']>, ParentType, ContextType, Partial<ChoiceVotersArgs>>;
};

export interface DateTimeScalarConfig extends GraphQLScalarTypeConfig<ResolversTypes['DateTime'], any> {
  name: 'DateTime';
}

export type MutationResolvers<ContextType = PollContext, ParentType extends ResolversParentTypes['Mutation'] = ResolversParentTypes['Mutation']> = {
  addChoice?: Resolver<ResolversTypes['Choice'], ParentType, ContextType, RequireFields<MutationAddChoiceArgs, 'choiceText' | 'questionId'>>;
  createQuestion?: Resolver<ResolversTypes['Question'], ParentType, ContextType, RequireFields<MutationCreateQuestionArgs, 'text'>>;
  deleteChoice?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType, RequireFields<MutationDeleteChoiceArgs, 'id'>>;
  unvote?: Resolver<Maybe<ResolversTypes['Choice']>, ParentType, ContextType, RequireFields<MutationUnvoteArgs, 'choiceId' | 'userId'>>;
  updateQuestion?: Resolver<Maybe<ResolversTypes['Question']>, ParentType, ContextType, RequireFields<MutationUpdateQuestionArgs, 'id'>>;
  vote?: Resolver<Maybe<ResolversTypes['Choice']>, ParentType, ContextType, RequireFields<MutationVoteArgs, 'choiceId' | 'userId'>>;
};

export type PageInfoResolvers<ContextType = PollContext, ParentType extends ResolversParentTypes['PageInfo'] = ResolversParentTypes['PageInfo']> = {
  endCursor?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  hasNextPage?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
};

export type QueryResolvers<ContextType = PollContext, ParentType extends ResolversParentTypes['Query'] = ResolversParentTypes['Query']> = {
  choice?: Resolver<Maybe<ResolversTypes['Choice']>, ParentType, ContextType, RequireFields<QueryChoiceArgs, 'id'>>;
  question?: Resolver<Maybe<ResolversTypes['Question']>, ParentType, ContextType, RequireFields<QueryQuestionArgs, 'id'>>;
  questions?: Resolver<ResolversTypes['QuestionConnection'], ParentType, ContextType, RequireFields<QueryQuestionsArgs, 'first' | 'order'>>;
  user?: Resolver<Maybe<ResolversTypes['User']>, ParentType, ContextType, RequireFields<QueryUserArgs, 'id'>>;
};

export type QuestionResolvers<ContextType = PollContext, ParentType extends ResolversParentTypes['Question'] = ResolversParentTypes['Question']> = {
  choices?: Resolver<Array<ResolversTypes['Choice']>, ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  pubDate?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  text?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
};

export type QuestionConnectionResolvers<ContextType = PollContext, ParentType extends ResolversParentTypes['QuestionConnection'] = ResolversParentTypes['QuestionConnection']> = {
  edges?: Resolver<Array<ResolversTypes['QuestionEdge']>, ParentType, ContextType>;
  nodes?: Resolver<Array<ResolversTypes['Question']>, ParentType, ContextType>;
  pageInfo?: Resolver<ResolversTypes['PageInfo'], ParentType, ContextType>;
  totalCount?: Resolver<Maybe<ResolversTypes['Int']>, ParentType, ContextType>;
};

export type QuestionEdgeResolvers<ContextType = PollContext, ParentType extends ResolversParentTypes['QuestionEdge'] = ResolversParentTypes['QuestionEdge']> = {
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  node?: Resolver<ResolversTypes['Question'], ParentType, ContextType>;
};

export type UserResolvers<ContextType = PollContext, ParentType extends ResolversParentTypes['User'] = ResolversParentTypes['User']> = {
  dateJoined?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  username?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  votes?: Resolver<Array<ResolversTypes['Choice']>, ParentType, ContextType>;
};

export type Resolvers<ContextType = PollContext> = {
  Choice?: ChoiceResolvers<ContextType>;
  DateTime?: GraphQLScalarType;
  Mutation?: MutationResolvers<ContextType>;
  PageInfo?: PageInfoResolvers<ContextType>;
  Query?: QueryResolvers<ContextType>;
  Question?: QuestionResolvers<ContextType>;
  QuestionConnection?: QuestionConnectionResolvers<ContextType>;
  QuestionEdge?: QuestionEdgeResolvers<ContextType>;
  User?: UserResolvers<ContextType>;
};

