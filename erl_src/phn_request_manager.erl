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
%% With tracker mode's layout instead of a map in the state's pending_operations, the state
%% functions run in tracker mode (phn_rm_tracker; docs/tracker.md).
%%
%% With `set_default_mode(cnode)' and phn_cnode running, compose_sub_requests/1 routes the
%% nodes' responses to the C-node, which reports each operation once to handle_response/4
%% (phn_rm_cnode; docs/cnode.md).
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
    split/1,
    set_default_mode/1,
    default_mode/0
]).

-export_type([state/0, mode/0]).

-include("phn_errors.hrl").

%% A coordinator's state: pending_operations a map (ProcessHub's own) or tracker mode's.
-type state() :: #{pending_operations := #{term() => operation()} | phn_rm_tracker:pending()
                                         | phn_tracker:tracker(),
                   _ => _}.
-type operation() :: phn_rm_common:operation().
-type hub() :: phn_rm_common:hub().
-type from() :: phn_rm_common:from().
-type children_data() :: [{ChildSpec :: map(), Metadata :: term()}].
-type mode() :: map | tracker | cnode.

-define(OPERATION, 'Elixir.ProcessHub.Service.RequestManager').
-define(START_REQ, 'Elixir.ProcessHub.Request.Handler.StartChildrenRequest').
-define(STOP_REQ, 'Elixir.ProcessHub.Request.Handler.StopChildrenRequest').
-define(PIDS_REGISTER_REQ, 'Elixir.ProcessHub.Request.Handler.PidsRegisterRequest').
-define(PIDS_UNREGISTER_REQ, 'Elixir.ProcessHub.Request.Handler.PidsUnregisterRequest').

%% Tracker mode's pending_operations: two type tests, which a map fails at once.
-define(TRACKER_MODE(P), (is_tuple(P) orelse is_reference(P))).
%% The mode store/update give a map state (set_default_mode/1).
-define(DEFAULT_MODE, {?MODULE, default_mode}).

-define(MAX_CHILDREN_PER_REQUEST, 1000).
-define(MAX_PIDS_PER_REQUEST, 10000).

%%% Operation functions

-spec new(hub(), module(), [{node(), list()}], list()) -> operation().
new(Hub, Handler, NodesData, Opts) -> phn_rm_common:new(Hub, Handler, NodesData, Opts).

%% @doc In C-node mode (`default_mode() =:= cnode') composed towards the C-node and
%% registered there for the calling process (phn_rm_cnode; map mode when phn_cnode does
%% not take it); otherwise as ProcessHub composes.
-spec compose_sub_requests(operation()) -> {ok, operation()} | {error, no_children}.
compose_sub_requests(Op) ->
    case default_mode() of
        cnode -> phn_rm_cnode:compose_sub_requests(Op);
        _ -> phn_rm_common:compose_sub_requests(Op)
    end.

%% @doc compose_sub_requests/1 with every sub-request's originating_node set to a C-node,
%% so that remote nodes send their responses to it (see phn_cnode).
-spec compose_sub_requests(operation(), node()) -> {ok, operation()} | {error, no_children}.
compose_sub_requests(Op, CNodeName) -> phn_cnode:compose_sub_requests(Op, CNodeName).

-spec process_response(operation(), node(), term()) -> {complete | pending, operation()}.
process_response(#{'__struct__' := ?OPERATION} = Op, Node, Results) ->
    case phn_rm_small:process_response(Op, Node, Results) of
        {ok, Answer} -> Answer;
        native -> phn_nif:process_response(Op, Node, Results)
    end.

-spec finalize(operation(), state()) -> term().
finalize(Op, State) -> phn_rm_common:finalize(Op, State).

%%% State management
%%
%% Two modes, chosen by what the state holds in pending_operations: a map (ProcessHub's
%% own behaviour, exactly) or tracker mode (phn_rm_tracker: chunk-aware, ignores responses
%% from unexpected nodes), which is a {phn_pending, Tracker, Ops} tuple or, before the
%% first state function wraps it, a bare phn_tracker (a NIF resource, which is_reference/1
%% accepts). Each map-mode clause follows, unchanged.

-spec store(state(), operation()) -> state().
store(#{pending_operations := P} = State, Op) when ?TRACKER_MODE(P) ->
    phn_rm_tracker:store(State, Op);
store(State, Op) ->
    map_store(State, Op).

-spec get(state(), term()) -> operation() | nil.
get(#{pending_operations := P} = State, Ref) when ?TRACKER_MODE(P) ->
    phn_rm_tracker:get(State, Ref);
get(State, Ref) ->
    phn_rm_common:get(State, Ref).

-spec update(state(), operation()) -> state().
update(#{pending_operations := P} = State, Op) when ?TRACKER_MODE(P) ->
    phn_rm_tracker:update(State, Op);
update(State, Op) ->
    map_store(State, Op).

%% A map state stays in map mode, unless the default mode is tracker: then store/update
%% of an operation the map does not hold takes the state over to tracker mode (a tracker
%% owned by the calling process); the operations already in the map finish in map mode.
map_store(State, Op) ->
    case persistent_term:get(?DEFAULT_MODE, map) of
        tracker -> phn_rm_tracker:take_over(State, Op);
        _MapOrCnode -> phn_rm_common:store(State, Op)
    end.

%% @doc The mode of every coordinator of this VM whose `pending_operations' starts as a
%% map (ProcessHub starts it as `%{}'): `map' (the default: ProcessHub's behaviour),
%% `tracker' (`store/2' and `update/2' take the state over to tracker mode;
%% docs/tracker.md) or `cnode' (`compose_sub_requests/1' routes the responses to the C-node;
%% docs/cnode.md). Meant to be set once, at start (a persistent_term: changing
%% it costs a global scan of the processes). Any other value raises `badarg' naming `Mode'
%% (docs/errors.md).
-spec set_default_mode(mode()) -> ok.
set_default_mode(Mode) ->
    ?CHECK_ARGS([{'Mode', {one_of, [map, tracker, cnode]}}], [Mode]),
    case persistent_term:get(?DEFAULT_MODE, map) of
        Mode -> ok;
        _ -> persistent_term:put(?DEFAULT_MODE, Mode)
    end.

-spec default_mode() -> mode().
default_mode() ->
    persistent_term:get(?DEFAULT_MODE, map).

-spec remove(state(), term()) -> state().
remove(#{pending_operations := P} = State, Ref) when ?TRACKER_MODE(P) ->
    phn_rm_tracker:remove(State, Ref);
remove(State, Ref) ->
    phn_rm_common:remove(State, Ref).

-spec cleanup_expired(state()) -> state().
cleanup_expired(State) ->
    cleanup_expired(State, erlang:monotonic_time(millisecond)).

%% @doc cleanup_expired/1 with the clock given (monotonic milliseconds).
-spec cleanup_expired(state(), integer()) -> state().
cleanup_expired(#{pending_operations := P} = State, NowMs) when ?TRACKER_MODE(P) ->
    phn_rm_tracker:cleanup_expired(State, NowMs);
cleanup_expired(#{pending_operations := Pending} = State, NowMs) ->
    State#{pending_operations := phn_nif:cleanup_expired(Pending, NowMs)}.

%%% GenServer handlers

-spec handle_response(state(), term(), node() | '$phn_cnode', term()) -> {noreply, state()}.
handle_response(State, Ref, '$phn_cnode' = Node, Body) ->
    %% C-node mode: phn_cnode's one report of an operation it routed to the C-node (either
    %% state). For any other operation the node name is just a name, as for ProcessHub:
    %% a cluster member cannot finish an operation by sending it.
    case phn_rm_cnode:handle_report(State, Ref, Body) of
        not_routed -> mode_response(State, Ref, Node, Body);
        Reply -> Reply
    end;
handle_response(State, Ref, Node, Results) ->
    mode_response(State, Ref, Node, Results).

mode_response(#{pending_operations := P} = State, Ref, Node, Results) when ?TRACKER_MODE(P) ->
    phn_rm_tracker:handle_response(State, Ref, Node, Results);
mode_response(State, Ref, Node, Results) ->
    phn_rm_common:handle_response(?MODULE, State, Ref, Node, Results).

-spec handle_await(state(), term(), from()) ->
          {reply, term(), state()} | {noreply, state()}.
handle_await(#{pending_operations := P} = State, Ref, From) when ?TRACKER_MODE(P) ->
    phn_rm_tracker:handle_await(State, Ref, From);
handle_await(State, Ref, From) ->
    phn_rm_common:handle_await(?MODULE, State, Ref, From).

-spec handle_timeout(state(), term(), from()) -> {noreply, state()}.
handle_timeout(#{pending_operations := P} = State, Ref, From) when ?TRACKER_MODE(P) ->
    phn_rm_tracker:handle_timeout(State, Ref, From);
handle_timeout(State, Ref, From) ->
    phn_rm_common:handle_timeout(State, Ref, From).

%%% Tracking utilities

-spec 'expired?'(operation()) -> boolean().
'expired?'(Op) -> phn_rm_common:'expired?'(Op).
-spec 'expired?'(operation(), integer()) -> boolean().
'expired?'(Op, NowMs) -> phn_rm_common:'expired?'(Op, NowMs).

-spec 'all_responded?'(operation()) -> boolean().
'all_responded?'(Op) ->
    case phn_rm_small:'all_responded?'(Op) of
        {ok, Answer} -> Answer;
        native -> phn_nif:all_responded(Op)
    end.

-spec set_awaiter(operation(), from() | nil) -> operation().
set_awaiter(Op, From) -> phn_rm_common:set_awaiter(Op, From).

-spec record_response(Op, node(), term(), atom()) -> Op when Op :: map().
record_response(Op, Node, Results, Field) ->
    case phn_rm_small:record_response(Op, Node, Results, Field) of
        {ok, Answer} -> Answer;
        native -> phn_nif:record_response(Op, Node, Results, Field)
    end.

%%% Execution utilities

-spec with_partition_check(hub(), fun(() -> T)) -> T | {error, partitioned}.
with_partition_check(Hub, Fun) -> phn_rm_common:with_partition_check(Hub, Fun).
-spec load_strategies(hub()) ->
          #{sync := term(), dist := term(), redun := term(), migr := term()}.
load_strategies(Hub) -> phn_rm_common:load_strategies(Hub).
-spec send_response(term(), list(), term()) -> ok | skip.
send_response(Type, Opts, Results) -> phn_rm_common:send_response(Type, Opts, Results).
-spec request_to_opts(map()) -> list().
request_to_opts(Req) -> phn_rm_common:request_to_opts(Req).

-spec migration_request(hub(), node(), children_data()) -> phn_rm_common:start_request().
migration_request(Hub, Target, ChildrenData) ->
    phn_rm_common:migration_request(Hub, Target, ChildrenData).
-spec migration_request(hub(), node(), children_data(), list()) ->
          phn_rm_common:start_request().
migration_request(Hub, Target, ChildrenData, Opts) ->
    phn_rm_common:migration_request(Hub, Target, ChildrenData, Opts).

-spec contraction_request(hub(), children_data()) -> phn_rm_common:start_request().
contraction_request(Hub, ChildrenData) ->
    phn_rm_common:contraction_request(Hub, ChildrenData).
-spec contraction_request(hub(), children_data(), list()) ->
          phn_rm_common:start_request().
contraction_request(Hub, ChildrenData, Opts) ->
    phn_rm_common:contraction_request(Hub, ChildrenData, Opts).

%%% Forwarding and splitting

-spec populate_forward([{node(), list()}], [node()], term()) -> [{node(), list()}].
populate_forward(Forward, TargetNodes, ChildData) ->
    case phn_rm_small:populate_forward(Forward, TargetNodes, ChildData) of
        {ok, Answer} -> Answer;
        native -> phn_nif:populate_forward(Forward, TargetNodes, ChildData)
    end.

%% A request within its limit is returned whole by the original's own test (`length/1' in
%% a guard: the same instructions, so never slower); only a longer (or malformed) one
%% reaches the NIF, which splits it (or raises badarg).
-spec split(map()) -> [map(), ...].
split(#{'__struct__' := ?START_REQ, children := Children} = Req)
  when is_list(Children), length(Children) =< ?MAX_CHILDREN_PER_REQUEST ->
    [Req];
split(#{'__struct__' := ?START_REQ, children := _} = Req) ->
    phn_nif:split_list(Req, children, ?MAX_CHILDREN_PER_REQUEST);
split(#{'__struct__' := ?STOP_REQ, children := Children} = Req)
  when is_list(Children), length(Children) =< ?MAX_CHILDREN_PER_REQUEST ->
    [Req];
split(#{'__struct__' := ?STOP_REQ, children := _} = Req) ->
    phn_nif:split_list(Req, children, ?MAX_CHILDREN_PER_REQUEST);
split(#{'__struct__' := ?PIDS_REGISTER_REQ, children_data := Data} = Req) when
    is_map(Data), map_size(Data) =< ?MAX_PIDS_PER_REQUEST
->
    [Req];
split(#{'__struct__' := ?PIDS_REGISTER_REQ, children_data := _} = Req) ->
    %% Chunks are fresh structs: only children_data survives (the original's quirk).
    phn_nif:split_map(Req, ?PIDS_REGISTER_REQ:'__struct__'(), children_data, ?MAX_PIDS_PER_REQUEST);
split(#{'__struct__' := ?PIDS_UNREGISTER_REQ, removable_cid_nodes := CidNodes} = Req)
  when is_list(CidNodes), length(CidNodes) =< ?MAX_PIDS_PER_REQUEST ->
    [Req];
split(#{'__struct__' := ?PIDS_UNREGISTER_REQ, removable_cid_nodes := _} = Req) ->
    phn_nif:split_list(Req, removable_cid_nodes, ?MAX_PIDS_PER_REQUEST);
split(Req) ->
    [Req].
