%% @doc The map-mode hot paths of `phn_request_manager' in plain Erlang, for inputs so
%% small that a NIF call costs more than the work it replaces (DESIGN.md: "A NIF never
%% costs more than the plain-Erlang work it replaces"). The limits are measured by
%% `bench/phn_bench_crossover.erl' and recorded in BENCHMARKS.md and bench/NOTES.md.
%%
%% Each function answers `{ok, Result}' with exactly what the NIF returns for the same
%% input, or `native' when the input is over its limit or has a shape that only the NIF
%% judges (it raises `badarg' there, as it always did): the drop-in then calls the NIF.
%% Nothing here raises, and the size checks are bounded: a walk stops at the limit, so
%% an input over it costs at most the limit's steps before the NIF runs.
%%
%% The algorithms are ProcessHub's, as in the oracle `phn_request_manager_erl', with the
%% NIF's two exact choices: a node already in `completed_nodes' leaves the MapSet as it
%% is, and the completion check is set equality.
-module(phn_rm_small).

-export([process_response/3,
         record_response/4,
         'all_responded?'/1,
         populate_forward/3,
         limits/0]).

%% With the limit given: what bench/phn_bench_crossover.erl measures against the NIF.
-export([process_response/4,
         'all_responded?'/2,
         populate_forward/5]).

-define(MAPSET, 'Elixir.MapSet').

%% Elements walked in Erlang, at most (see limits/0). Measured (bench/NOTES.md): the
%% Erlang walk beats the NIF at every size tried for a response (1 to 10 000 nodes), up
%% to 32 nodes for the completion check alone (it builds a set when every node has
%% answered), and up to 4 targets into 1 024 keys for forwarding. cleanup_expired has no
%% Erlang path: the NIF wins at almost every size, one pending operation included.
-define(RESPONSE_SUBS, 10000).
-define(RESPONDED_NODES, 32).
-define(FORWARD_KEYS, 1024).
-define(FORWARD_TARGETS, 4).

%% @doc The limits, for the tests at and around them and for the bench's notes:
%% the largest input each function still runs in Erlang.
-spec limits() -> #{process_response := ?RESPONSE_SUBS, record_response := ?RESPONSE_SUBS,
                    'all_responded?' := ?RESPONDED_NODES, populate_forward_keys := ?FORWARD_KEYS,
                    populate_forward_targets := ?FORWARD_TARGETS}.
limits() ->
    #{process_response => ?RESPONSE_SUBS,
      record_response => ?RESPONSE_SUBS,
      'all_responded?' => ?RESPONDED_NODES,
      populate_forward_keys => ?FORWARD_KEYS,
      populate_forward_targets => ?FORWARD_TARGETS}.

%% An operation as process_response/3 gives it back.
-type responded_op() :: #{completed_nodes := map(), nodes_data := list(),
                          sub_requests := list(), _ => _}.

%%====================================================================
%% Response tracking
%%====================================================================

%% @doc `process_response/3' when both `sub_requests' and `nodes_data' have at most
%% ?RESPONSE_SUBS elements.
-spec process_response(map(), term(), term()) ->
          {ok, {complete | pending, responded_op()}} | native.
process_response(Op, Node, Results) ->
    process_response(Op, Node, Results, ?RESPONSE_SUBS).

-spec process_response(map(), term(), term(), non_neg_integer()) ->
          {ok, {complete | pending, map()}} | native.
process_response(Op, Node, Results, Limit) ->
    try
        Op1 = record(Op, Node, Results, results, Limit),
        case responded(Op1, Limit) of
            true -> {ok, {complete, Op1}};
            false -> {ok, {pending, Op1}}
        end
    catch
        _:_ -> native
    end.

%% @doc `record_response/4' when `sub_requests' has at most ?RESPONSE_SUBS elements.
-spec record_response(map(), term(), term(), term()) -> {ok, map()} | native.
record_response(Op, Node, Results, Field) ->
    try
        {ok, record(Op, Node, Results, Field, ?RESPONSE_SUBS)}
    catch
        _:_ -> native
    end.

%% @doc `all_responded?/1' when `nodes_data' has at most ?RESPONDED_NODES elements.
-spec 'all_responded?'(term()) -> {ok, boolean()} | native.
'all_responded?'(Op) ->
    'all_responded?'(Op, ?RESPONDED_NODES).

-spec 'all_responded?'(term(), non_neg_integer()) -> {ok, boolean()} | native.
'all_responded?'(Op, Limit) ->
    try
        {ok, responded(Op, Limit)}
    catch
        _:_ -> native
    end.

record(#{sub_requests := Subs,
         completed_nodes := #{'__struct__' := ?MAPSET, map := Members} = Completed} = Op,
       Node, Results, Field, Limit) when is_map(Members) ->
    Answered = answer(Subs, Node, Results, Field, Limit),
    Completed1 = case is_map_key(Node, Members) of
                     true -> Completed;
                     false -> Completed#{map := Members#{Node => []}}
                 end,
    Op#{sub_requests := Answered, completed_nodes := Completed1}.

%% Every sub-request of Node (compared with ==, as Elixir's `sub_req.node == node')
%% answered; a non-map, a map without `node', or an improper list raises.
answer([], _Node, _Results, _Field, _Budget) ->
    [];
answer([_ | _], _Node, _Results, _Field, 0) ->
    throw(native);
answer([#{node := N} = Sub | Rest], Node, Results, Field, Budget) when N == Node ->
    [Sub#{Field => Results, status => completed}
     | answer(Rest, Node, Results, Field, Budget - 1)];
answer([#{node := _} = Sub | Rest], Node, Results, Field, Budget) ->
    [Sub | answer(Rest, Node, Results, Field, Budget - 1)].

%% The set of nodes_data's nodes equals completed_nodes' members. A walk that allocates
%% nothing checks every element (a 2-tuple, the list proper, as the NIF checks before
%% answering) and membership; only when every node is a member does the count of
%% distinct nodes decide.
responded(#{nodes_data := NodesData,
            completed_nodes := #{'__struct__' := ?MAPSET, map := Members}}, Limit)
  when is_map(Members) ->
    case members(NodesData, Members, Limit, 0) of
        missing -> false;
        Count when Count < map_size(Members) -> false;
        _ -> distinct(NodesData) =:= map_size(Members)
    end.

%% The length of NodesData when each of its nodes is in Members, else `missing'.
members([], _Members, _Budget, Count) ->
    Count;
members([_ | _], _Members, 0, _Count) ->
    throw(native);
members([{Node, _} | Rest], Members, Budget, Count) when is_map_key(Node, Members) ->
    members(Rest, Members, Budget - 1, Count + 1);
members([{_, _} | Rest], _Members, Budget, _Count) ->
    shape(Rest, Budget - 1).

%% The rest of a list whose answer is known, validated as the NIF does.
shape([], _Budget) -> missing;
shape([_ | _], 0) -> throw(native);
shape([{_, _} | Rest], Budget) -> shape(Rest, Budget - 1).

%% Distinct nodes, compared exactly (=:=, as map keys): lists:usort when every node is
%% an atom (it merges == terms, which for atoms is the same), a map otherwise.
distinct(NodesData) ->
    case atom_keys(NodesData, []) of
        mixed -> map_size(maps:from_keys([Node || {Node, _} <- NodesData], []));
        Atoms -> length(lists:usort(Atoms))
    end.

atom_keys([], Acc) -> Acc;
atom_keys([{Node, _} | Rest], Acc) when is_atom(Node) -> atom_keys(Rest, [Node | Acc]);
atom_keys(_, _Acc) -> mixed.

%%====================================================================
%% Forwarding
%%====================================================================

%% @doc `populate_forward/3' with at most ?FORWARD_KEYS entries in `Forward' and
%% ?FORWARD_TARGETS targets: for each target in order, `Keyword.update' (prepend to its
%% first entry, drop its later duplicates) or `{Node, [ChildData]}' appended.
-spec populate_forward(term(), term(), term()) -> {ok, [{term(), term()}]} | native.
populate_forward(Forward, Targets, ChildData) ->
    populate_forward(Forward, Targets, ChildData, ?FORWARD_KEYS, ?FORWARD_TARGETS).

-spec populate_forward(term(), term(), term(), non_neg_integer(), non_neg_integer()) ->
          {ok, [{term(), term()}]} | native.
populate_forward(Forward, Targets, ChildData, MaxKeys, MaxTargets) ->
    try
        ok = pairs(Forward, MaxKeys),
        ok = atoms(Targets, MaxTargets),
        {ok, lists:foldl(fun(Node, Acc) -> keyword_update(Acc, Node, ChildData) end,
                         Forward, Targets)}
    catch
        _:_ -> native
    end.

pairs([], _Budget) -> ok;
pairs([{_, _} | Rest], Budget) when Budget > 0 -> pairs(Rest, Budget - 1).

atoms([], _Budget) -> ok;
atoms([Node | Rest], Budget) when is_atom(Node), Budget > 0 -> atoms(Rest, Budget - 1).

keyword_update([{Key, Value} | Rest], Key, ChildData) ->
    [{Key, [ChildData | Value]} | [Pair || {K, _} = Pair <- Rest, K =/= Key]];
keyword_update([Pair | Rest], Key, ChildData) ->
    [Pair | keyword_update(Rest, Key, ChildData)];
keyword_update([], Key, ChildData) ->
    [{Key, [ChildData]}].
