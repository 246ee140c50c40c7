%% @doc The parts of ProcessHub's `ProcessHub.Service.RequestManager' (v0.5.0-beta)
%% that are not hot paths, shared by the NIF-backed drop-in `phn_request_manager'
%% and the pure-Erlang oracle `phn_request_manager_erl'.
%%
%% Written from REFERENCE.md (the contract). Functions that need a hot path take the
%% implementation module `Mod' as first argument and call `Mod:process_response/3',
%% `Mod:'all_responded?'/1'.
%%
%% "State" is any map holding `pending_operations' (`#{TxRef => Operation}'); only that
%% key is touched, and finalize receives the whole state as its hub argument
%% (v0.5.0-beta). ProcessHub's own modules are called by their real names.
%%
%% Bad input raises (`function_clause', `{badkey, _}', `{badmap, _}', `badarg', ...);
%% nothing returns garbage.
-module(phn_rm_common).

-export([new/4,
         compose_sub_requests/1,
         finalize/2,
         store/2,
         get/2,
         update/2,
         remove/2,
         handle_response/5,
         handle_await/4,
         handle_timeout/3,
         'expired?'/1,
         'expired?'/2,
         set_awaiter/2,
         with_partition_check/2,
         load_strategies/1,
         send_response/3,
         request_to_opts/1,
         migration_request/3,
         migration_request/4,
         contraction_request/2,
         contraction_request/3,
         empty_mapset/0]).

%% Helpers shared with the drop-in, the oracle and the tests.
-export([monotonic_ms/0,
         finalize_and_reply/2,
         kw_get/3,
         truthy/1,
         handler_action/1,
         mapset_from_list/1,
         mapset_to_list/1,
         'mapset_member?'/2]).

%% ProcessHub's (Elixir) modules, present at run time in the host application.
-ignore_xref([{'Elixir.MapSet', new, 0},
              {'Elixir.ProcessHub.Future', '__struct__', 0},
              {'Elixir.ProcessHub.Request.Handler.StartChildrenRequest', '__struct__', 0},
              {'Elixir.ProcessHub.Service.State', 'is_partitioned?', 1},
              {'Elixir.ProcessHub.Service.Storage', get, 2},
              {'Elixir.ProcessHub.Constant.StorageKey', strsyn, 0},
              {'Elixir.ProcessHub.Constant.StorageKey', strdist, 0},
              {'Elixir.ProcessHub.Constant.StorageKey', strred, 0},
              {'Elixir.ProcessHub.Constant.StorageKey', strmigr, 0},
              {'Elixir.ProcessHub.Strategy.Distribution.Base', distribution_signature, 2}]).

-define(RM, 'Elixir.ProcessHub.Service.RequestManager').
-define(FUTURE, 'Elixir.ProcessHub.Future').
-define(MAPSET, 'Elixir.MapSet').
-define(START_REQ, 'Elixir.ProcessHub.Request.Handler.StartChildrenRequest').
-define(HUB_STATE, 'Elixir.ProcessHub.Service.State').
-define(STORAGE, 'Elixir.ProcessHub.Service.Storage').
-define(STORAGE_KEY, 'Elixir.ProcessHub.Constant.StorageKey').
-define(DIST_BASE, 'Elixir.ProcessHub.Strategy.Distribution.Base').

-define(DEFAULT_REQUEST_TIMEOUT, 600000).
-define(DEFAULT_FUTURE_TIMEOUT, 5000).
-define(EMPTY_MAPSET_KEY, {?MODULE, empty_mapset}).

-export_type([state/0, operation/0, from/0, mapset/0, hub/0, start_request/0]).

%% A coordinator's state: only pending_operations is touched.
-type state() :: #{pending_operations := #{term() => operation()}, _ => _}.
%% `%ProcessHub.Service.RequestManager{}' (v0.5.0-beta's ten fields).
-type operation() :: #{'__struct__' := ?RM,
                       transaction_id := reference(),
                       hub_id := term(),
                       handler := module(),
                       nodes_data := [{node(), list()}],
                       sub_requests := list(),
                       completed_nodes := mapset(),
                       expires_at := number() | nil,
                       awaiter := from() | nil,
                       future := map(),
                       options := list(),
                       _ => _}.
-type from() :: {pid(), term()}.
%% What compose_sub_requests/1 reads and gives (as its callers' specs read them).
-type composable() :: #{'__struct__' := ?RM, nodes_data := list(), _ => _}.
-type composed() :: #{'__struct__' := ?RM, handler := term(), nodes_data := [term(), ...],
                      sub_requests := [term(), ...], _ => _}.
%% An Elixir `MapSet' (its `map' holds the elements as keys).
-type mapset() :: #{'__struct__' := ?MAPSET, map := map(), _ => _}.
%% A `%ProcessHub.Hub{}' (read: `hub_id', and `storage.misc' for the strategies).
-type hub() :: #{hub_id := term(), _ => _}.
%% A `%StartChildrenRequest{}' made by migration_request/3,4 and contraction_request/2,3.
-type start_request() :: #{'__struct__' := ?START_REQ,
                           transaction_id := reference(),
                           request_signature := term(),
                           hub_id := term(),
                           originating_node := nil,
                           reply_to := nil,
                           node := node(),
                           children := [child()],
                           options := list(),
                           post_action => term(),
                           _ => _}.
-type child() :: #{child_id := term(), child_spec := map(), metadata := term(),
                   nodes := [node(), ...], migration := true}.

%%====================================================================
%% Operation functions
%%====================================================================

%% @doc `RequestManager.new(Hub, HandlerModule, NodesData, Opts)': a fresh Operation with
%% exactly the ten v0.5.0-beta fields (no `result').
-spec new(hub(), module(), [{node(), list()}], list()) -> operation().
new(Hub, Handler, NodesData, Opts) when is_list(Opts) ->
    HubId = maps:get(hub_id, Hub),
    RequestTimeout = kw_get(request_timeout, Opts, ?DEFAULT_REQUEST_TIMEOUT),
    FutureTimeout = kw_get(timeout, Opts, ?DEFAULT_FUTURE_TIMEOUT),
    Action = handler_action(Handler),
    TxId = make_ref(),
    ExpiresAt = monotonic_ms() + RequestTimeout,
    Future = (?FUTURE:'__struct__'())#{future_resolver => {HubId, node()},
                                       timeout => FutureTimeout,
                                       ref => TxId,
                                       action => Action},
    #{'__struct__' => ?RM,
      transaction_id => TxId,
      hub_id => HubId,
      handler => Handler,
      nodes_data => NodesData,
      sub_requests => [],
      completed_nodes => empty_mapset(),
      expires_at => ExpiresAt,
      awaiter => nil,
      future => Future,
      options => Opts}.

%% @doc `{ok, Op'}' with one `Handler:new(Op, Node, Children)' per `nodes_data' entry
%% (in order), or `{error, no_children}' for an empty `nodes_data'.
-spec compose_sub_requests(composable()) -> {ok, composed()} | {error, no_children}.
compose_sub_requests(#{'__struct__' := ?RM, nodes_data := []}) ->
    {error, no_children};
compose_sub_requests(#{'__struct__' := ?RM, nodes_data := NodesData, handler := Handler} = Op)
  when is_list(NodesData) ->
    SubRequests = lists:map(fun({Node, Children}) -> Handler:new(Op, Node, Children) end,
                            NodesData),
    {ok, Op#{sub_requests := SubRequests}}.

%% @doc What every mode does with a completed operation: `finalize/2', and the result to
%% its awaiter if it has one (an operation nobody awaits is still finalized: its side
%% effects happen there).
-spec finalize_and_reply(operation(), term()) -> ok.
finalize_and_reply(Op, State) ->
    Result = finalize(Op, State),
    Awaiter = maps:get(awaiter, Op),
    case truthy(Awaiter) of
        true -> _ = gen_server:reply(Awaiter, Result), ok;
        false -> ok
    end.

%% @doc `Handler:post_process(Op, Handler:aggregate_results(Op), Hub)'.
-spec finalize(operation(), term()) -> term().
finalize(Op, Hub) ->
    Handler = maps:get(handler, Op),
    Result = Handler:aggregate_results(Op),
    Handler:post_process(Op, Result, Hub).

%%====================================================================
%% State management
%%====================================================================

-spec store(state(), operation()) -> state().
store(State, Op) ->
    Pending = maps:get(pending_operations, State),
    State#{pending_operations := maps:put(maps:get(transaction_id, Op), Op, Pending)}.

-spec update(state(), operation()) -> state().
update(State, Op) ->
    store(State, Op).

-spec get(state(), term()) -> operation() | nil.
get(State, Ref) ->
    maps:get(Ref, maps:get(pending_operations, State), nil).

-spec remove(state(), term()) -> state().
remove(State, Ref) ->
    Pending = maps:get(pending_operations, State),
    State#{pending_operations := maps:remove(Ref, Pending)}.

%%====================================================================
%% GenServer handlers
%%====================================================================

%% @doc `handle_cast({operation_response, Ref, Node, Results}, State)' (b3d3699):
%% complete -> finalize, reply to the awaiter if any, remove; pending -> update.
-spec handle_response(module(), state(), term(), term(), term()) -> {noreply, state()}.
handle_response(Mod, State, Ref, Node, Results) ->
    case get(State, Ref) of
        nil ->
            {noreply, State};
        Op ->
            case Mod:process_response(Op, Node, Results) of
                {complete, Op1} ->
                    finalize_and_reply(Op1, State),
                    {noreply, remove(State, Ref)};
                {pending, Op1} ->
                    {noreply, update(State, Op1)}
            end
    end.

%% @doc `handle_call({await_result, Ref}, From, State)'.
-spec handle_await(module(), state(), term(), from()) ->
          {reply, term(), state()} | {noreply, state()}.
handle_await(Mod, State, Ref, From) ->
    case get(State, Ref) of
        nil ->
            {reply, {error, pending_request_not_found}, State};
        Op ->
            Timeout = kw_get(timeout, maps:get(options, Op), ?DEFAULT_FUTURE_TIMEOUT),
            case Mod:'all_responded?'(Op) orelse Timeout == 0 of
                true ->
                    {reply, finalize(Op, State), remove(State, Ref)};
                false ->
                    Op1 = set_awaiter(Op, From),
                    _ = erlang:send_after(Timeout, self(), {await_timeout, Ref, From}),
                    {noreply, update(State, Op1)}
            end
    end.

%% @doc `handle_info({await_timeout, Ref, From}, State)'.
-spec handle_timeout(state(), term(), from()) -> {noreply, state()}.
handle_timeout(State, Ref, From) ->
    case get(State, Ref) of
        nil ->
            {noreply, State};
        Op ->
            case maps:get(awaiter, Op) == From of
                true ->
                    gen_server:reply(From, finalize(Op, State)),
                    {noreply, remove(State, Ref)};
                false ->
                    {noreply, State}
            end
    end.

%%====================================================================
%% Tracking utilities (non-hot)
%%====================================================================

%% @doc `monotonic_ms() > expires_at' (strict). Erlang term order, so a `nil'
%% `expires_at' (an atom, above every number) never expires.
-spec 'expired?'(operation()) -> boolean().
'expired?'(Op) ->
    'expired?'(Op, monotonic_ms()).

-spec 'expired?'(operation(), integer()) -> boolean().
'expired?'(#{expires_at := ExpiresAt}, Now) ->
    Now > ExpiresAt.

-spec set_awaiter(operation(), from() | nil) -> operation().
set_awaiter(Op, From) ->
    Op#{awaiter := From}.

%%====================================================================
%% Execution utilities
%%====================================================================

%% @doc `{error, partitioned}' when `ProcessHub.Service.State.is_partitioned?(Hub)' is
%% truthy, else `Fun()'.
-spec with_partition_check(term(), fun(() -> term())) -> term().
with_partition_check(Hub, Fun) ->
    case truthy(?HUB_STATE:'is_partitioned?'(Hub)) of
        true -> {error, partitioned};
        false -> Fun()
    end.

%% @doc The four strategies from the hub's misc storage (v0.5.0-beta contract).
-spec load_strategies(hub()) -> #{sync := term(), dist := term(), redun := term(),
                                  migr := term()}.
load_strategies(Hub) ->
    Misc = misc_storage(Hub),
    #{sync => ?STORAGE:get(Misc, ?STORAGE_KEY:strsyn()),
      dist => ?STORAGE:get(Misc, ?STORAGE_KEY:strdist()),
      redun => ?STORAGE:get(Misc, ?STORAGE_KEY:strred()),
      migr => ?STORAGE:get(Misc, ?STORAGE_KEY:strmigr())}.

%% @doc Casts `{Type, TxId, node(), Results}' to `{HubId, OriginatingNode}' when all
%% three routing options are truthy (`ok'); otherwise `skip'.
-spec send_response(term(), list(), term()) -> ok | skip.
send_response(ResponseType, Opts, Results) when is_list(Opts) ->
    HubId = kw_get(hub_id, Opts, nil),
    TxId = kw_get(transaction_id, Opts, nil),
    Origin = kw_get(originating_node, Opts, nil),
    case truthy(HubId) andalso truthy(TxId) andalso truthy(Origin) of
        true ->
            ok = gen_server:cast({HubId, Origin}, {ResponseType, TxId, node(), Results}),
            ok;
        false ->
            skip
    end.

%% @doc `[{reply_to,_}, {originating_node,_}, {hub_id,_}, {transaction_id,_} | Options]',
%% each routing entry present only if its field is truthy.
-spec request_to_opts(map()) -> list().
request_to_opts(Req) ->
    Options = case maps:get(options, Req) of
                  nil -> [];
                  false -> [];
                  O when is_list(O) -> O;
                  _ -> error(badarg)
              end,
    Fields = [transaction_id, hub_id, originating_node, reply_to],
    lists:foldl(fun(Key, Acc) ->
                        Value = maps:get(Key, Req),
                        case truthy(Value) of
                            true -> [{Key, Value} | Acc];
                            false -> Acc
                        end
                end, Options, Fields).

%% @doc A fire-and-forget `%StartChildrenRequest{}' that migrates `ChildrenData'
%% (`[{ChildSpec, Metadata}]') to `TargetNode'.
-spec migration_request(hub(), node(), [{map(), term()}]) -> start_request().
migration_request(Hub, TargetNode, ChildrenData) ->
    migration_request(Hub, TargetNode, ChildrenData, []).

-spec migration_request(hub(), node(), [{map(), term()}], list()) -> start_request().
migration_request(Hub, TargetNode, ChildrenData, Opts) when is_list(Opts) ->
    Children = children_for(ChildrenData, [TargetNode]),
    PostAction = kw_get(post_action, Opts, nil),
    Options = lists:filter(fun({K, _}) -> K =/= post_action end, Opts),
    (start_request(Hub, TargetNode, Children, Options))#{post_action => PostAction}.

%% @doc Same shape as a migration request, for the local node, options unfiltered.
-spec contraction_request(hub(), [{map(), term()}]) -> start_request().
contraction_request(Hub, ChildrenData) ->
    contraction_request(Hub, ChildrenData, [{migration_add, true}]).

-spec contraction_request(hub(), [{map(), term()}], list()) -> start_request().
contraction_request(Hub, ChildrenData, Opts) when is_list(Opts) ->
    Children = children_for(ChildrenData, [node()]),
    start_request(Hub, node(), Children, Opts).

%%====================================================================
%% MapSet
%%====================================================================

%% @doc An empty Elixir `MapSet'. Built by `MapSet.new()' when Elixir is loadable, else
%% as Debian Elixir 1.14's layout. Cached in persistent_term.
-spec empty_mapset() -> mapset().
empty_mapset() ->
    case persistent_term:get(?EMPTY_MAPSET_KEY, undefined) of
        undefined ->
            Empty = build_empty_mapset(),
            persistent_term:put(?EMPTY_MAPSET_KEY, Empty),
            Empty;
        Empty ->
            Empty
    end.

build_empty_mapset() ->
    case code:ensure_loaded(?MAPSET) of
        {module, ?MAPSET} -> ?MAPSET:new();
        _ -> #{'__struct__' => ?MAPSET, map => #{}, version => 2}
    end.

%% @doc A MapSet holding `Elems' (in the layout of `empty_mapset/0').
-spec mapset_from_list(list()) -> mapset().
mapset_from_list(Elems) when is_list(Elems) ->
    #{'__struct__' := ?MAPSET, map := Map} = Set = empty_mapset(),
    Set#{map := lists:foldl(fun(E, Acc) -> Acc#{E => []} end, Map, Elems)}.

%% @doc The elements of a MapSet, in Erlang term order.
-spec mapset_to_list(mapset()) -> list().
mapset_to_list(#{'__struct__' := ?MAPSET, map := Map}) when is_map(Map) ->
    lists:sort(maps:keys(Map)).

-spec 'mapset_member?'(mapset(), term()) -> boolean().
'mapset_member?'(#{'__struct__' := ?MAPSET, map := Map}, Elem) when is_map(Map) ->
    is_map_key(Elem, Map).

%%====================================================================
%% Helpers
%%====================================================================

-spec monotonic_ms() -> integer().
monotonic_ms() ->
    erlang:monotonic_time(millisecond).

%% @doc `Keyword.get/3': the first 2-tuple whose key matches wins.
-spec kw_get(term(), list(), term()) -> term().
kw_get(Key, List, Default) when is_list(List) ->
    case lists:keyfind(Key, 1, List) of
        {Key, Value} -> Value;
        false -> Default;
        Other -> error({case_clause, Other})
    end.

%% @doc Elixir truthiness: everything but `nil' and `false'.
-spec truthy(term()) -> boolean().
truthy(nil) -> false;
truthy(false) -> false;
truthy(_) -> true.

%% @doc `start | stop | unknown' from the last segment of an Elixir module name.
%% A name that is not `Elixir.'-prefixed raises `badarg' (as `Module.split/1' does).
-spec handler_action(atom()) -> start | stop | unknown.
handler_action(Handler) when is_atom(Handler) ->
    case atom_to_binary(Handler, utf8) of
        <<"Elixir.", Name/binary>> ->
            case lists:last(binary:split(Name, <<".">>, [global])) of
                <<"StartChildrenRequest">> -> start;
                <<"StopChildrenRequest">> -> stop;
                _ -> unknown
            end;
        _ ->
            error(badarg)
    end;
handler_action(_) ->
    error(badarg).

misc_storage(Hub) ->
    maps:get(misc, maps:get(storage, Hub)).

children_for(ChildrenData, Nodes) when is_list(ChildrenData) ->
    lists:map(fun({Spec, Metadata}) ->
                      #{child_id => maps:get(id, Spec),
                        child_spec => Spec,
                        metadata => Metadata,
                        nodes => Nodes,
                        migration => true}
              end, ChildrenData).

start_request(Hub, TargetNode, Children, Options) ->
    HubId = maps:get(hub_id, Hub),
    DistStrategy = ?STORAGE:get(misc_storage(Hub), ?STORAGE_KEY:strdist()),
    Signature = ?DIST_BASE:distribution_signature(DistStrategy, Hub),
    (?START_REQ:'__struct__'())#{transaction_id => make_ref(),
                                 request_signature => Signature,
                                 hub_id => HubId,
                                 originating_node => nil,
                                 reply_to => nil,
                                 node => TargetNode,
                                 children => Children,
                                 options => Options}.
