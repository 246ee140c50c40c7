%% @doc The four ProcessHub partition-tolerance strategies (REFERENCE.md §5.3), evaluated
%% by the C core (c_src/core/phn_partition.c) that the C-node also uses.
%%
%% A strategy is the Elixir struct map, e.g.
%% `#{'__struct__' => 'Elixir.ProcessHub.Strategy.PartitionTolerance.StaticQuorum',
%%    quorum_size => 3, startup_confirm => false}' (the constructors below build them).
%%
%% ProcessHub keeps each strategy's state in the hub's misc storage; here it is explicit:
%% a map holding the same keys, `dynamic_quorum_down_nodes' (`[{node(), UnixSeconds}]',
%% newest first) and `majority_quorum_max_seen' (integer), each absent until stored. Every
%% function takes the state and returns the new one; other keys are kept.
%%
%% `Nodes' is always the hub's node list including the local node, as it stands after
%% the event (what the original's `Cluster.nodes(Hub, [:include_local])' returns); only
%% its length matters. Bad input (not a strategy struct, an improper node list, a malformed
%% state) raises `badarg' with an `error_info' naming the argument (docs/errors.md): the
%% shapes are checked here, and when the C core refuses the content (a strategy field of
%% the wrong type, a malformed stored log) the argument it refused is found by asking it
%% again without the state.
-module(phn_partition).

-export([
    new_state/0,
    init/2,
    init/3,
    toggle_lock/4,
    toggle_lock/5,
    toggle_unlock/4,
    toggle_unlock/5,
    has_quorum/3,
    nodes_down/4,
    nodes_up/4,
    sync_quorum_log/2,
    reset_cluster_size/2,
    divergence/0,
    static_quorum/1,
    static_quorum/2,
    dynamic_quorum/1,
    dynamic_quorum/2,
    majority_quorum/0,
    majority_quorum/2
]).

-export_type([strategy/0, state/0]).

-include("phn_errors.hrl").

-define(DIVERGENCE, 'Elixir.ProcessHub.Strategy.PartitionTolerance.Divergence').
-define(STATIC, 'Elixir.ProcessHub.Strategy.PartitionTolerance.StaticQuorum').
-define(DYNAMIC, 'Elixir.ProcessHub.Strategy.PartitionTolerance.DynamicQuorum').
-define(MAJORITY, 'Elixir.ProcessHub.Strategy.PartitionTolerance.MajorityQuorum').

-type strategy() :: #{'__struct__' := atom(), atom() => term()}.
%% The constructors' structs (each a strategy()).
-type static_quorum() ::
    #{'__struct__' := ?STATIC, quorum_size := number(), startup_confirm := boolean()}.
-type dynamic_quorum() ::
    #{'__struct__' := ?DYNAMIC, quorum_size := number(), threshold_time := number()}.
-type majority_quorum() ::
    #{'__struct__' := ?MAJORITY, initial_cluster_size := pos_integer(),
      track_max_size := boolean()}.
-type state() :: #{
    dynamic_quorum_down_nodes => [{node(), integer()}],
    majority_quorum_max_seen => integer(),
    term() => term()
}.

-define(EVAL_ARGS(Node), [{'Strategy', strategy}, {'Nodes', nodes}, {Node, node},
                          {'State', map}, {'NowSeconds', integer}]).
-define(BAD_STATE, "not a state this strategy can read (dynamic_quorum_down_nodes must be "
                   "a proper list of {Node, UnixSeconds}, majority_quorum_max_seen a "
                   "64-bit integer)").

%% @doc A state with nothing stored yet.
-spec new_state() -> #{}.
new_state() -> #{}.

%% @equiv init(Strategy, Nodes, new_state())
-spec init(strategy(), [node()]) -> {strategy(), boolean(), state()}.
init(Strategy, Nodes) -> init(Strategy, Nodes, new_state()).

%% @doc The strategy's `init/2' at hub start. Returns the strategy (as the original's init
%% does), whether the hub must enter partition mode now (StaticQuorum with
%% `startup_confirm' and no quorum), and the state (MajorityQuorum stores
%% `max(initial_cluster_size, length(Nodes))').
-spec init(strategy(), [node()], state()) -> {strategy(), boolean(), state()}.
init(Strategy, Nodes, State) ->
    ?CHECK_ARGS([{'Strategy', strategy}, {'Nodes', nodes}, {'State', map}],
                [Strategy, Nodes, State]),
    Now = now_s(),
    try phn_nif:partition_eval(init, Strategy, Nodes, undefined, Now, State) of
        {Partition, State1} -> {Strategy, Partition, State1}
    catch
        error:badarg ->
            erlang:error(badarg, [Strategy, Nodes, State],
                         phn_errors:info(blame({init, Strategy, Nodes, undefined, Now},
                                               {1, 2, 3})))
    end.

%% @equiv toggle_lock(Strategy, Nodes, DownNode, State, erlang:system_time(second))
-spec toggle_lock(strategy(), [node()], node(), state()) -> {boolean(), state()}.
toggle_lock(Strategy, Nodes, DownNode, State) ->
    toggle_lock(Strategy, Nodes, DownNode, State, now_s()).

%% @doc `toggle_lock?/3' for `DownNode' (already removed from `Nodes'): `true' when the
%% hub must enter partition mode. DynamicQuorum logs the down event at `NowSeconds'.
-spec toggle_lock(strategy(), [node()], node(), state(), integer()) -> {boolean(), state()}.
toggle_lock(Strategy, Nodes, DownNode, State, NowSeconds) ->
    ?CHECK_ARGS(?EVAL_ARGS('DownNode'), [Strategy, Nodes, DownNode, State, NowSeconds]),
    try phn_nif:partition_eval(lock, Strategy, Nodes, DownNode, NowSeconds, State)
    catch
        error:badarg ->
            erlang:error(badarg, [Strategy, Nodes, DownNode, State, NowSeconds],
                         phn_errors:info(blame({lock, Strategy, Nodes, DownNode, NowSeconds},
                                               {1, 2, 4})))
    end.

%% @equiv toggle_unlock(Strategy, Nodes, UpNode, State, erlang:system_time(second))
-spec toggle_unlock(strategy(), [node()], node(), state()) -> {boolean(), state()}.
toggle_unlock(Strategy, Nodes, UpNode, State) ->
    toggle_unlock(Strategy, Nodes, UpNode, State, now_s()).

%% @doc `toggle_unlock?/3' for `UpNode' (already added to `Nodes'): `true' when the hub
%% may leave partition mode. DynamicQuorum prunes its log (the original then casts the
%% log to the joining node: call {@link sync_quorum_log/2} there); MajorityQuorum with
%% `track_max_size' raises `max_seen'.
-spec toggle_unlock(strategy(), [node()], node(), state(), integer()) -> {boolean(), state()}.
toggle_unlock(Strategy, Nodes, UpNode, State, NowSeconds) ->
    ?CHECK_ARGS(?EVAL_ARGS('UpNode'), [Strategy, Nodes, UpNode, State, NowSeconds]),
    try phn_nif:partition_eval(unlock, Strategy, Nodes, UpNode, NowSeconds, State)
    catch
        error:badarg ->
            erlang:error(badarg, [Strategy, Nodes, UpNode, State, NowSeconds],
                         phn_errors:info(blame({unlock, Strategy, Nodes, UpNode, NowSeconds},
                                               {1, 2, 4})))
    end.

%% @doc Whether the strategy sees a quorum now, without changing the state.
-spec has_quorum(strategy(), [node()], state()) -> boolean().
has_quorum(Strategy, Nodes, State) ->
    ?CHECK_ARGS([{'Strategy', strategy}, {'Nodes', nodes}, {'State', map}],
                [Strategy, Nodes, State]),
    Now = now_s(),
    try phn_nif:partition_eval(check, Strategy, Nodes, undefined, Now, State) of
        {Has, _} -> Has
    catch
        error:badarg ->
            erlang:error(badarg, [Strategy, Nodes, State],
                         phn_errors:info(blame({check, Strategy, Nodes, undefined, Now},
                                               {1, 2, 3})))
    end.

%% @doc The coordinator's node-down batch: `toggle_lock' for each removed node in order,
%% stopping at the first `true' (the original's `Enum.any?'), with `Nodes' already
%% without all of them.
-spec nodes_down(strategy(), [node()], [node()], state()) -> {boolean(), state()}.
nodes_down(Strategy, Nodes, DownNodes, State) ->
    ?CHECK_ARGS([{'Strategy', strategy}, {'Nodes', nodes}, {'DownNodes', nodes}, {'State', map}],
                [Strategy, Nodes, DownNodes, State]),
    any(fun(N, S) -> toggle_lock(Strategy, Nodes, N, S) end, DownNodes, State).

%% @doc The node-up batch: `toggle_unlock' per joined node, stopping at the first `true'.
-spec nodes_up(strategy(), [node()], [node()], state()) -> {boolean(), state()}.
nodes_up(Strategy, Nodes, UpNodes, State) ->
    ?CHECK_ARGS([{'Strategy', strategy}, {'Nodes', nodes}, {'UpNodes', nodes}, {'State', map}],
                [Strategy, Nodes, UpNodes, State]),
    any(fun(N, S) -> toggle_unlock(Strategy, Nodes, N, S) end, UpNodes, State).

%% @doc DynamicQuorum's `sync_quorum_log': the remote log replaces the local one only when
%% strictly longer (an absent local log counts as `[]').
-spec sync_quorum_log(state(), [{node(), integer()}]) -> state().
sync_quorum_log(State, RemoteLog) ->
    ?CHECK_ARGS([{'State', map}, {'RemoteLog', quorum_log}], [State, RemoteLog]),
    try phn_nif:partition_sync_log(State, RemoteLog)
    catch
        error:badarg ->
            %% RemoteLog's shape was checked: the stored log is what the core refused.
            erlang:error(badarg, [State, RemoteLog],
                         phn_errors:info(#{1 => {'State', ?BAD_STATE}}))
    end.

%% @doc MajorityQuorum's `reset_cluster_size': store `N' (> 0) as `max_seen'.
-spec reset_cluster_size(state(), pos_integer()) -> state().
reset_cluster_size(State, N) ->
    ?CHECK_ARGS([{'State', map}, {'N', pos_integer}], [State, N]),
    State#{majority_quorum_max_seen => N}.

%% Strategy constructors with the structs' defaults.

-spec divergence() -> #{'__struct__' := ?DIVERGENCE}.
divergence() -> #{'__struct__' => ?DIVERGENCE}.

-spec static_quorum(number()) -> static_quorum().
static_quorum(Quorum) -> static_quorum(Quorum, false).

-spec static_quorum(number(), boolean()) -> static_quorum().
static_quorum(Quorum, StartupConfirm) ->
    ?CHECK_ARGS([{'Quorum', number}, {'StartupConfirm', boolean}],
                [Quorum, StartupConfirm]),
    #{'__struct__' => ?STATIC, quorum_size => Quorum,
      startup_confirm => StartupConfirm}.

-spec dynamic_quorum(number()) -> dynamic_quorum().
dynamic_quorum(Quorum) -> dynamic_quorum(Quorum, 30).

-spec dynamic_quorum(number(), number()) -> dynamic_quorum().
dynamic_quorum(Quorum, ThresholdSeconds) ->
    ?CHECK_ARGS([{'Quorum', number}, {'ThresholdSeconds', number}],
                [Quorum, ThresholdSeconds]),
    #{'__struct__' => ?DYNAMIC, quorum_size => Quorum,
      threshold_time => ThresholdSeconds}.

-spec majority_quorum() -> majority_quorum().
majority_quorum() -> majority_quorum(1, true).

-spec majority_quorum(pos_integer(), boolean()) -> majority_quorum().
majority_quorum(Initial, Track) ->
    ?CHECK_ARGS([{'Initial', pos_integer}, {'Track', boolean}], [Initial, Track]),
    #{'__struct__' => ?MAJORITY, initial_cluster_size => Initial,
      track_max_size => Track}.

%% Internal

now_s() -> erlang:system_time(second).

%% Which argument the C core refused, asked again: the strategy with one node and no
%% state, then with the given nodes and no state; else the state. Positions: {Strategy,
%% Nodes, State}.
blame({Op, Strategy, Nodes, Node, Now}, {SPos, NPos, StPos}) ->
    Refused = fun(F) -> try _ = F(), false catch error:badarg -> true end end,
    case Refused(fun() -> phn_nif:partition_eval(check, Strategy, [node()], undefined, Now,
                                                 #{}) end) of
        true ->
            #{SPos => {'Strategy', "a strategy struct the C core cannot evaluate (unknown "
                                   "'__struct__' or a field of the wrong type)"}};
        false ->
            case Refused(fun() -> phn_nif:partition_eval(Op, Strategy, Nodes, Node, Now,
                                                         #{}) end) of
                true ->
                    #{NPos => {'Nodes', "no verdict for this node list (DynamicQuorum "
                                        "needs at least one node)"}};
                false ->
                    #{StPos => {'State', ?BAD_STATE}}
            end
    end.

any(_Fun, [], State) ->
    {false, State};
any(Fun, [Node | Rest], State) when is_list(Rest) ->
    case Fun(Node, State) of
        {true, State1} -> {true, State1};
        {false, State1} -> any(Fun, Rest, State1)
    end;
any(_Fun, _Improper, _State) ->
    erlang:error(badarg).
