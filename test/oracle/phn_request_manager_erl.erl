%% @doc ProcessHub's `ProcessHub.Service.RequestManager' (v0.5.0-beta) in plain Erlang,
%% written from REFERENCE.md: the oracle for differential tests of the NIF-backed
%% `phn_request_manager', and the baseline for its benchmarks.
%%
%% The six hot paths (`record_response/4', `all_responded?/1', `process_response/3',
%% `split/1', `populate_forward/3', `cleanup_expired/1') are written here the natural
%% way; everything else is `phn_rm_common' with this module as the implementation.
-module(phn_request_manager_erl).

-export([new/4,
         compose_sub_requests/1,
         process_response/3,
         finalize/2,
         store/2,
         get/2,
         update/2,
         remove/2,
         cleanup_expired/1,
         handle_response/4,
         handle_await/3,
         handle_timeout/3,
         'expired?'/1,
         'all_responded?'/1,
         set_awaiter/2,
         record_response/4,
         with_partition_check/2,
         load_strategies/1,
         send_response/3,
         request_to_opts/1,
         migration_request/3,
         migration_request/4,
         contraction_request/2,
         contraction_request/3,
         populate_forward/3,
         split/1]).

%% With an explicit clock, for tests.
-export([cleanup_expired/2,
         'expired?'/2]).

%% ProcessHub's (Elixir) module, present at run time in the host application.
-ignore_xref([{'Elixir.ProcessHub.Request.Handler.PidsRegisterRequest', '__struct__', 0}]).

-define(RM, 'Elixir.ProcessHub.Service.RequestManager').
-define(MAPSET, 'Elixir.MapSet').
-define(START_REQ, 'Elixir.ProcessHub.Request.Handler.StartChildrenRequest').
-define(STOP_REQ, 'Elixir.ProcessHub.Request.Handler.StopChildrenRequest').
-define(PIDS_REG, 'Elixir.ProcessHub.Request.Handler.PidsRegisterRequest').
-define(PIDS_UNREG, 'Elixir.ProcessHub.Request.Handler.PidsUnregisterRequest').

-define(CHILDREN_CHUNK, 1000).
-define(PIDS_CHUNK, 10000).

%%====================================================================
%% Hot paths
%%====================================================================

%% @doc Marks every sub-request of `Node' as completed with `Field => Results', and adds
%% `Node' to `completed_nodes' (even when no sub-request matched).
-spec record_response(map(), term(), term(), term()) -> map().
record_response(#{sub_requests := SubRequests, completed_nodes := Completed} = Op,
                Node, Results, Field) ->
    %% `==', as Elixir's `sub_req.node == response_node'.
    Updated = lists:map(fun(#{node := N} = SubRequest) when N == Node ->
                                SubRequest#{Field => Results, status => completed};
                           (#{node := _} = SubRequest) ->
                                SubRequest
                        end, SubRequests),
    Op#{sub_requests := Updated, completed_nodes := mapset_put(Completed, Node)}.

%% @doc The set of `nodes_data' keys equals `completed_nodes'.
-spec 'all_responded?'(map()) -> boolean().
'all_responded?'(#{nodes_data := NodesData,
                   completed_nodes := #{'__struct__' := ?MAPSET, map := Completed}})
  when is_list(NodesData), is_map(Completed) ->
    Expected = maps:from_list(lists:map(fun({Node, _}) -> {Node, []} end,
                                        NodesData)),
    map_size(Expected) =:= map_size(Completed)
        andalso lists:all(fun(Node) -> is_map_key(Node, Expected) end,
                          maps:keys(Completed)).

%% @doc `{complete, Op'}' or `{pending, Op'}' after recording `Node''s results.
-spec process_response(map(), term(), term()) -> {complete | pending, map()}.
process_response(#{'__struct__' := ?RM} = Op, Node, Results) ->
    Op1 = record_response(Op, Node, Results, results),
    case 'all_responded?'(Op1) of
        true -> {complete, Op1};
        false -> {pending, Op1}
    end.

%% @doc Splits big requests: Start/Stop by 1000 `children', PidsRegister by 10 000
%% `children_data' entries (into fresh structs), PidsUnregister by 10 000
%% `removable_cid_nodes'; anything else is `[Req]'.
-spec split(term()) -> [term()].
split(#{'__struct__' := ?START_REQ, children := Children} = Req)
  when is_list(Children), length(Children) =< ?CHILDREN_CHUNK ->
    [Req];
split(#{'__struct__' := ?START_REQ, children := Children} = Req) ->
    [Req#{children := Chunk} || Chunk <- chunk_every(Children, ?CHILDREN_CHUNK)];
split(#{'__struct__' := ?STOP_REQ, children := Children} = Req)
  when is_list(Children), length(Children) =< ?CHILDREN_CHUNK ->
    [Req];
split(#{'__struct__' := ?STOP_REQ, children := Children} = Req) ->
    [Req#{children := Chunk} || Chunk <- chunk_every(Children, ?CHILDREN_CHUNK)];
split(#{'__struct__' := ?PIDS_REG, children_data := Data} = Req)
  when is_map(Data), map_size(Data) =< ?PIDS_CHUNK ->
    [Req];
split(#{'__struct__' := ?PIDS_REG, children_data := Data}) ->
    Fresh = ?PIDS_REG:'__struct__'(),
    [Fresh#{children_data := maps:from_list(Chunk)}
     || Chunk <- chunk_every(maps:to_list(Data), ?PIDS_CHUNK)];
split(#{'__struct__' := ?PIDS_UNREG, removable_cid_nodes := CidNodes} = Req)
  when is_list(CidNodes), length(CidNodes) =< ?PIDS_CHUNK ->
    [Req];
split(#{'__struct__' := ?PIDS_UNREG, removable_cid_nodes := CidNodes} = Req) ->
    [Req#{removable_cid_nodes := Chunk} || Chunk <- chunk_every(CidNodes, ?PIDS_CHUNK)];
split(Req) ->
    [Req].

%% @doc For each target node in order, a `Keyword.update': prepend `ChildData' to an
%% existing entry (in place, later duplicates of the key dropped) or append
%% `{Node, [ChildData]}'. Targets must be atoms and `Forward' a proper list of 2-tuples,
%% else `badarg'.
-spec populate_forward([{term(), term()}], [atom()], term()) -> [{term(), term()}].
populate_forward(Forward, TargetNodes, ChildData) ->
    ok = check_pairs(Forward),
    ok = check_atoms(TargetNodes),
    lists:foldl(fun(Node, Acc) -> keyword_update(Acc, Node, ChildData) end,
                Forward, TargetNodes).

%% @doc Drops every operation whose `expires_at' has passed; no reply, no finalize.
-spec cleanup_expired(map()) -> map().
cleanup_expired(State) ->
    cleanup_expired(State, phn_rm_common:monotonic_ms()).

-spec cleanup_expired(map(), integer()) -> map().
cleanup_expired(State, Now) ->
    Pending = maps:get(pending_operations, State),
    State#{pending_operations := maps:filter(fun(_Ref, #{expires_at := ExpiresAt}) ->
                                                     not (Now > ExpiresAt)
                                             end, Pending)}.

%%====================================================================
%% Delegated to phn_rm_common
%%====================================================================

new(Hub, Handler, NodesData, Opts) ->
    phn_rm_common:new(Hub, Handler, NodesData, Opts).

compose_sub_requests(Op) ->
    phn_rm_common:compose_sub_requests(Op).

finalize(Op, Hub) ->
    phn_rm_common:finalize(Op, Hub).

store(State, Op) ->
    phn_rm_common:store(State, Op).

get(State, Ref) ->
    phn_rm_common:get(State, Ref).

update(State, Op) ->
    phn_rm_common:update(State, Op).

remove(State, Ref) ->
    phn_rm_common:remove(State, Ref).

handle_response(State, Ref, Node, Results) ->
    phn_rm_common:handle_response(?MODULE, State, Ref, Node, Results).

handle_await(State, Ref, From) ->
    phn_rm_common:handle_await(?MODULE, State, Ref, From).

handle_timeout(State, Ref, From) ->
    phn_rm_common:handle_timeout(State, Ref, From).

'expired?'(Op) ->
    phn_rm_common:'expired?'(Op).

'expired?'(Op, Now) ->
    phn_rm_common:'expired?'(Op, Now).

set_awaiter(Op, From) ->
    phn_rm_common:set_awaiter(Op, From).

with_partition_check(Hub, Fun) ->
    phn_rm_common:with_partition_check(Hub, Fun).

load_strategies(Hub) ->
    phn_rm_common:load_strategies(Hub).

send_response(ResponseType, Opts, Results) ->
    phn_rm_common:send_response(ResponseType, Opts, Results).

request_to_opts(Req) ->
    phn_rm_common:request_to_opts(Req).

migration_request(Hub, TargetNode, ChildrenData) ->
    phn_rm_common:migration_request(Hub, TargetNode, ChildrenData).

migration_request(Hub, TargetNode, ChildrenData, Opts) ->
    phn_rm_common:migration_request(Hub, TargetNode, ChildrenData, Opts).

contraction_request(Hub, ChildrenData) ->
    phn_rm_common:contraction_request(Hub, ChildrenData).

contraction_request(Hub, ChildrenData, Opts) ->
    phn_rm_common:contraction_request(Hub, ChildrenData, Opts).

%%====================================================================
%% Internal
%%====================================================================

mapset_put(#{'__struct__' := ?MAPSET, map := Map} = Set, Elem) when is_map(Map) ->
    Set#{map := Map#{Elem => []}}.

%% Enum.chunk_every(List, N) on a proper list (anything else raises function_clause).
chunk_every([], _N) ->
    [];
chunk_every(List, N) ->
    {Chunk, Rest} = take(List, N, []),
    [Chunk | chunk_every(Rest, N)].

take(Rest, 0, Acc) ->
    {lists:reverse(Acc), Rest};
take([], _N, Acc) ->
    {lists:reverse(Acc), []};
take([H | T], N, Acc) ->
    take(T, N - 1, [H | Acc]).

keyword_update([{Key, Value} | Rest], Key, ChildData) ->
    [{Key, [ChildData | Value]} | [Pair || {K, _} = Pair <- Rest, K =/= Key]];
keyword_update([Pair | Rest], Key, ChildData) ->
    [Pair | keyword_update(Rest, Key, ChildData)];
keyword_update([], Key, ChildData) ->
    [{Key, [ChildData]}].

check_pairs([{_, _} | Rest]) -> check_pairs(Rest);
check_pairs([]) -> ok;
check_pairs(_) -> error(badarg).

check_atoms([Node | Rest]) when is_atom(Node) -> check_atoms(Rest);
check_atoms([]) -> ok;
check_atoms(_) -> error(badarg).
