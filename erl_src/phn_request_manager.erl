%% Drop-in for ProcessHub.Service.RequestManager (v0.5.0-beta; REFERENCE.md is the
%% contract): same functions, arguments, results and data shapes, quirks included. The
%% work that grows with input (response recording, the completion check, splitting,
%% forwarding, expiry) runs in C through phn_nif where that is faster, and in plain
%% Erlang (phn_rm_small) below the measured limits where the NIF call costs more than
%% the work, with the same results either side; the rest is shared with the plain-Erlang
%% oracle phn_request_manager_erl through phn_rm_common.
%%
%% From Elixir: `alias :phn_request_manager, as: RequestManager`.
%%
%% With a phn_tracker instead of a map in the state's pending_operations, the state
%% functions run in tracker mode (phn_rm_tracker; README.md, "Tracker mode").
-module(phn_request_manager).

-export([
    new/4,
    compose_sub_requests/1,
    compose_sub_requests/2,
    process_response/3,
    finalize/2,
    store/2,
    get/2,
    update/2,
    remove/2,
    cleanup_expired/1,
    cleanup_expired/2,
    handle_response/4,
    handle_await/3,
    handle_timeout/3,
    'expired?'/1,
    'expired?'/2,
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
    split/1
]).

-define(OPERATION, 'Elixir.ProcessHub.Service.RequestManager').
-define(START_REQ, 'Elixir.ProcessHub.Request.Handler.StartChildrenRequest').
-define(STOP_REQ, 'Elixir.ProcessHub.Request.Handler.StopChildrenRequest').
-define(PIDS_REGISTER_REQ, 'Elixir.ProcessHub.Request.Handler.PidsRegisterRequest').
-define(PIDS_UNREGISTER_REQ, 'Elixir.ProcessHub.Request.Handler.PidsUnregisterRequest').

-define(MAX_CHILDREN_PER_REQUEST, 1000).
-define(MAX_PIDS_PER_REQUEST, 10000).

%%% Operation functions

new(Hub, Handler, NodesData, Opts) -> phn_rm_common:new(Hub, Handler, NodesData, Opts).

compose_sub_requests(Op) -> phn_rm_common:compose_sub_requests(Op).

%% @doc compose_sub_requests/1 with every sub-request's originating_node set to a C-node,
%% so that remote nodes send their responses to it (see phn_cnode).
compose_sub_requests(Op, CNodeName) -> phn_cnode:compose_sub_requests(Op, CNodeName).

process_response(#{'__struct__' := ?OPERATION} = Op, Node, Results) ->
    case phn_rm_small:process_response(Op, Node, Results) of
        {ok, Answer} -> Answer;
        native -> phn_nif:process_response(Op, Node, Results)
    end.

finalize(Op, State) -> phn_rm_common:finalize(Op, State).

%%% State management
%%
%% Two modes, chosen by what the state holds in pending_operations: a map (ProcessHub's
%% own behaviour, exactly) or a phn_tracker (tracker mode, phn_rm_tracker: chunk-aware,
%% ignores responses from unexpected nodes). A tracker is a NIF resource, which
%% is_reference/1 accepts; each map-mode clause follows, unchanged.

store(#{pending_operations := P} = State, Op) when is_reference(P) ->
    phn_rm_tracker:store(State, Op);
store(State, Op) ->
    phn_rm_common:store(State, Op).

get(#{pending_operations := P} = State, Ref) when is_reference(P) ->
    phn_rm_tracker:get(State, Ref);
get(State, Ref) ->
    phn_rm_common:get(State, Ref).

update(#{pending_operations := P} = State, Op) when is_reference(P) ->
    phn_rm_tracker:update(State, Op);
update(State, Op) ->
    phn_rm_common:update(State, Op).

remove(#{pending_operations := P} = State, Ref) when is_reference(P) ->
    phn_rm_tracker:remove(State, Ref);
remove(State, Ref) ->
    phn_rm_common:remove(State, Ref).

cleanup_expired(State) ->
    cleanup_expired(State, erlang:monotonic_time(millisecond)).

%% @doc cleanup_expired/1 with the clock given (monotonic milliseconds).
cleanup_expired(#{pending_operations := P} = State, NowMs) when is_reference(P) ->
    phn_rm_tracker:cleanup_expired(State, NowMs);
cleanup_expired(#{pending_operations := Pending} = State, NowMs) ->
    State#{pending_operations := phn_nif:cleanup_expired(Pending, NowMs)}.

%%% GenServer handlers

handle_response(#{pending_operations := P} = State, Ref, Node, Results) when is_reference(P) ->
    phn_rm_tracker:handle_response(State, Ref, Node, Results);
handle_response(State, Ref, Node, Results) ->
    phn_rm_common:handle_response(?MODULE, State, Ref, Node, Results).

handle_await(#{pending_operations := P} = State, Ref, From) when is_reference(P) ->
    phn_rm_tracker:handle_await(State, Ref, From);
handle_await(State, Ref, From) ->
    phn_rm_common:handle_await(?MODULE, State, Ref, From).

handle_timeout(#{pending_operations := P} = State, Ref, From) when is_reference(P) ->
    phn_rm_tracker:handle_timeout(State, Ref, From);
handle_timeout(State, Ref, From) ->
    phn_rm_common:handle_timeout(State, Ref, From).

%%% Tracking utilities

'expired?'(Op) -> phn_rm_common:'expired?'(Op).
'expired?'(Op, NowMs) -> phn_rm_common:'expired?'(Op, NowMs).

'all_responded?'(Op) ->
    case phn_rm_small:'all_responded?'(Op) of
        {ok, Answer} -> Answer;
        native -> phn_nif:all_responded(Op)
    end.

set_awaiter(Op, From) -> phn_rm_common:set_awaiter(Op, From).

record_response(Op, Node, Results, Field) ->
    case phn_rm_small:record_response(Op, Node, Results, Field) of
        {ok, Answer} -> Answer;
        native -> phn_nif:record_response(Op, Node, Results, Field)
    end.

%%% Execution utilities

with_partition_check(Hub, Fun) -> phn_rm_common:with_partition_check(Hub, Fun).
load_strategies(Hub) -> phn_rm_common:load_strategies(Hub).
send_response(Type, Opts, Results) -> phn_rm_common:send_response(Type, Opts, Results).
request_to_opts(Req) -> phn_rm_common:request_to_opts(Req).

migration_request(Hub, Target, ChildrenData) ->
    phn_rm_common:migration_request(Hub, Target, ChildrenData).
migration_request(Hub, Target, ChildrenData, Opts) ->
    phn_rm_common:migration_request(Hub, Target, ChildrenData, Opts).

contraction_request(Hub, ChildrenData) ->
    phn_rm_common:contraction_request(Hub, ChildrenData).
contraction_request(Hub, ChildrenData, Opts) ->
    phn_rm_common:contraction_request(Hub, ChildrenData, Opts).

%%% Forwarding and splitting

populate_forward(Forward, TargetNodes, ChildData) ->
    case phn_rm_small:populate_forward(Forward, TargetNodes, ChildData) of
        {ok, Answer} -> Answer;
        native -> phn_nif:populate_forward(Forward, TargetNodes, ChildData)
    end.

%% A request within its limit is returned whole after a bounded walk in Erlang (at most
%% limit + 1 cells), as the original's length check; only a longer (or malformed) one
%% reaches the NIF, which splits it (or raises badarg).
split(#{'__struct__' := ?START_REQ, children := Children} = Req) ->
    case phn_rm_small:split_list(Children, ?MAX_CHILDREN_PER_REQUEST) of
        true -> [Req];
        false -> phn_nif:split_list(Req, children, ?MAX_CHILDREN_PER_REQUEST)
    end;
split(#{'__struct__' := ?STOP_REQ, children := Children} = Req) ->
    case phn_rm_small:split_list(Children, ?MAX_CHILDREN_PER_REQUEST) of
        true -> [Req];
        false -> phn_nif:split_list(Req, children, ?MAX_CHILDREN_PER_REQUEST)
    end;
split(#{'__struct__' := ?PIDS_REGISTER_REQ, children_data := Data} = Req) when
    is_map(Data), map_size(Data) =< ?MAX_PIDS_PER_REQUEST
->
    [Req];
split(#{'__struct__' := ?PIDS_REGISTER_REQ, children_data := _} = Req) ->
    %% Chunks are fresh structs: only children_data survives (the original's quirk).
    phn_nif:split_map(Req, ?PIDS_REGISTER_REQ:'__struct__'(), children_data, ?MAX_PIDS_PER_REQUEST);
split(#{'__struct__' := ?PIDS_UNREGISTER_REQ, removable_cid_nodes := CidNodes} = Req) ->
    case phn_rm_small:split_list(CidNodes, ?MAX_PIDS_PER_REQUEST) of
        true -> [Req];
        false -> phn_nif:split_list(Req, removable_cid_nodes, ?MAX_PIDS_PER_REQUEST)
    end;
split(Req) ->
    [Req].
