%% The coordinator's path, as a ProcessHub user runs it: `store' an operation, then
%% `handle_response/4' for every response (every chunk), the last one finalizing it
%% (handler aggregate_results + post_process, the test doubles) and removing it. Through
%% phn_request_manager in map mode and in tracker mode, against phn_request_manager_erl
%% (ProcessHub's algorithm in plain Erlang), with ProcessHub-shaped payloads: children
%% are child maps with a child_spec, results are [{ChildId, {ok, Pid}}].
%%
%% The matrix: nodes x children per node; a node sent more than 1000 children answers
%% once per 1000-child chunk (ProcessHub splits its request), chunk after chunk, all the
%% nodes answering each chunk in turn. Map mode (ProcessHub's own behaviour) completes on
%% each node's first chunk and ignores the later ones (the operation is gone); tracker
%% mode waits for every chunk. "among N" cells keep N other pending operations in the
%% same state. Time is per operation (the whole sequence); ratio = erl / ours.
%%
%% Memory per pending operation: the operation stored and every response before the
%% completing one recorded, against the state before: heap words (erts_debug:size of what
%% pending_operations holds on the heap) and, in tracker mode, native bytes
%% (phn_tracker:stats/1). Tracker mode's pending_operations is a bare tracker or a tuple
%% holding one beside heap terms; both are read.
-module(phn_bench_userpath).

-export([cases/1, memory/1]).
%% The handler of the "request manager's share" cells: finalize in O(1).
-export([aggregate_results/1, post_process/3]).
%% For ad-hoc runs.
-export([setup_for_test/1, sequence/4]).
setup_for_test(Cell) -> setup(Cell).

-define(RM, phn_request_manager).
-define(ERL, phn_request_manager_erl).
-define(HANDLER, 'Elixir.ProcessHub.Request.Handler.StartChildrenRequest').
-define(CHUNK, 1000).
-define(SIZE_WALK, 100000).

%% {Nodes, ChildrenPerNode, OtherPending}
cells(smoke) ->
    [{3, 1, 0}, {10, 100, 0}, {3, 2000, 0}, {3, 1, 1000}];
cells(quick) ->
    [{3, 1, 0}, {10, 1, 0}, {100, 1, 0}, {10, 100, 0}, {3, 1000, 0}, {3, 10000, 0},
     {3, 1, 10000}];
cells(full) ->
    [{N, C, 0} || N <- [3, 10, 100, 1000], C <- [1, 100, 1000]] ++
        [{3, 10000, 0}] ++
        %% The cells with a speed target above 1x, with a handler that finalizes in O(1):
        %% the request manager's share of the path (the handler's own work is the same
        %% code in every mode).
        [{N, C, 0, share} || {N, C} <- [{10, 1}, {100, 1}, {10, 100}, {3, 1000}]] ++
        [{N, C, 10000} || {N, C} <- [{3, 1}, {10, 1}, {100, 1}, {10, 100}, {3, 1000},
                                     {3, 10000}]].

%% Timed cases in phn_bench's format.
cases(Size) ->
    [cell_case(Cell) || Cell <- cells(Size)].

label({Nodes, Children, Others, share}) ->
    [label({Nodes, Children, Others}), ", handler finalizing in O(1) (the request manager's share)"];
label({Nodes, Children, Others}) ->
    io_lib:format("user path, ~b nodes x ~b children~s~s", [Nodes, Children,
        case Children > ?CHUNK of true -> " (chunked)"; false -> "" end,
        case Others of 0 -> ""; _ -> io_lib:format(", among ~b pending", [Others]) end]).

cell_case({Nodes, Children, Others, share} = Cell) ->
    Case = cell_case({Nodes, Children, Others}),
    Case#{label := io_lib:format("~s, store + ~b responses + finalize, per operation",
                                 [label(Cell), Nodes * chunks(Children)]),
          setup := fun() -> setup(Cell) end,
          targets := []};
cell_case({Nodes, Children, _Others} = Cell) ->
    Responses = Nodes * chunks(Children),
    #{label => io_lib:format("~s, store + ~b responses + finalize, per operation",
                             [label(Cell), Responses]),
      setup => fun() -> setup(Cell) end,
      impls => [{"tracker", fun(In) -> run_tracker(In) end},
                {"map", fun(#{op := Op, map := S, responses := Rs}) -> sequence(?RM, S, Op, Rs) end},
                {"erl", fun(#{op := Op, map := S, responses := Rs}) -> sequence(?ERL, S, Op, Rs) end}],
      %% The tracker-mode state lives in the process dictionary between calls: erased, or
      %% every later case's garbage collections would copy it (a 1000 x 1000 cell holds a
      %% million children).
      teardown => fun(#{tracker := T, key := Key}) -> erase(Key), phn_tracker:close(T) end,
      per_call => 1,
      ratios => [{"erl", "map"}, {"erl", "tracker"}],
      targets => [{"erl", "map", 1.0, "issue 11, every cell, map mode"},
                  {"erl", "tracker", tracker_goal(Cell), tracker_why(Cell)}]}.

tracker_goal({10, 1, 0}) -> 3;
tracker_goal({100, 1, 0}) -> 20;
tracker_goal({1000, 1, 0}) -> 100;
tracker_goal({3, 1000, 0}) -> 2;
tracker_goal({10, 100, 0}) -> 2;
tracker_goal(_) -> 1.0.

tracker_why(Cell) ->
    case tracker_goal(Cell) of
        1.0 -> "issue 11, every cell, tracker mode";
        _ -> "issue 11, tracker mode"
    end.

chunks(Children) -> max(1, (Children + ?CHUNK - 1) div ?CHUNK).

%%% Inputs

setup({Nodes, Children, Others, share}) ->
    In = setup({Nodes, Children, Others}),
    Op = maps:get(op, In),
    In#{op := Op#{handler := ?MODULE}};
setup({Nodes, Children, Others}) ->
    Names = [list_to_atom("u" ++ integer_to_list(I) ++ "@host") || I <- lists:seq(1, Nodes)],
    Op = operation(Names, Children),
    Pid = self(),
    Responses = [{Node, [{maps:get(child_id, C), {ok, Pid}} || C <- Chunk]}
                 || K <- lists:seq(1, chunks(Children)),
                    {Node, NodeChildren} <- maps:get(nodes_data, Op),
                    Chunk <- [chunk(NodeChildren, K)]],
    OtherOps = [operation(lists:sublist(Names, 3), 1) || _ <- lists:seq(1, Others)],
    Map = lists:foldl(fun(O, S) -> ?RM:store(S, O) end, state(#{}), OtherOps),
    Tracker = phn_tracker:new(),
    Tracked = lists:foldl(fun(O, S) -> ?RM:store(S, O) end, state(Tracker), OtherOps),
    Input = #{op => Op, map => Map, tracker => Tracker, responses => Responses,
              key => make_ref()},
    put(maps:get(key, Input), Tracked),
    %% Every mode ends with the operation gone, the others still there.
    Ref = maps:get(transaction_id, Op),
    [nil = Mod:get(sequence(Mod, S, Op, Responses), Ref) || {Mod, S} <- [{?RM, Map}, {?ERL, Map}]],
    run_tracker(Input),
    nil = ?RM:get(get(maps:get(key, Input)), Ref),
    Input.

state(Pending) -> #{hub_id => bench_hub, pending_operations => Pending}.

%% A ProcessHub start operation: each node its own children, composed sub-requests.
operation(Names, Children) ->
    NodesData = [{Node, children(Node, Children)} || Node <- Names],
    {ok, Op} = ?RM:compose_sub_requests(
                   ?RM:new(#{hub_id => bench_hub}, ?HANDLER, NodesData, [])),
    Op.

children(Node, N) ->
    [begin
         Id = {Node, I},
         #{child_id => Id,
           child_spec => #{id => Id, start => {'Elixir.Bench.Worker', start_link, [I]}}}
     end || I <- lists:seq(1, N)].

chunk(Children, K) ->
    lists:sublist(Children, (K - 1) * ?CHUNK + 1, ?CHUNK).

%%% The sequence

sequence(Mod, State, Op, Responses) ->
    Ref = maps:get(transaction_id, Op),
    lists:foldl(fun({Node, Results}, S) ->
                        {noreply, S1} = Mod:handle_response(S, Ref, Node, Results),
                        S1
                end, Mod:store(State, Op), Responses).

%% The tracker is mutable: the state each sequence returns is the next one's.
run_tracker(#{key := Key, op := Op, responses := Rs}) ->
    put(Key, sequence(?RM, get(Key), Op, Rs)).

%% The O(1) handler: the result names the operation and nothing else.
aggregate_results(#{transaction_id := Ref}) -> {done, Ref}.
post_process(_Op, Result, _Hub) -> Result.

%%% Memory

%% One line per cell: per pending operation, every mode.
memory(Size) ->
    [memory_line(Cell) || {_, _, 0} = Cell <- cells(Size)].

memory_line(Cell) ->
    In = setup(Cell),
    #{op := Op, map := Map, responses := Rs, tracker := T, key := Key} = In,
    erase(phn_userpath_flat),
    Erl = footprint_delta(?ERL, Map, Op, Rs),
    Nif = footprint_delta(?RM, Map, Op, Rs),
    %% Tracker mode completes on the last response (it waits for every chunk); it is
    %% mutable, so it cannot be asked ahead whether a response completes.
    Tr = footprint_delta(?RM, erase(Key), Op, lists:droplast(Rs)),
    phn_tracker:close(T),
    W = erlang:system_info(wordsize),
    Show = fun({Words, Bytes}) ->
                   io_lib:format("~b words (~b B)~s", [Words, Words * W,
                       case Bytes of 0 -> ""; _ -> io_lib:format(" + ~b B native", [Bytes]) end])
           end,
    Total = fun({Words, Bytes}) -> Words * W + Bytes end,
    phn_bench:result(
      io_lib:format("memory per pending operation, ~s, stored + every response before the "
                    "completing one~s: tracker ~s, map ~s, erl ~s; ratio erl/tracker ~s, erl/map ~s",
                    [label(Cell),
                     case get(phn_userpath_flat) of
                         true -> " (flat words: shared children counted twice)";
                         _ -> ""
                     end,
                     Show(Tr), Show(Nif), Show(Erl),
                     x(Total(Erl), Total(Tr)), x(Total(Erl), Total(Nif))]), []).

x(_, 0) -> "-";
x(A, B) -> io_lib:format("~.2fx", [A / B]).

%% The footprint of the operation at its largest: stored, and every response recorded
%% but the one that completes it (map mode completes on each node's first chunk). Read
%% before and after, as a tracker is mutable; the operation is removed afterwards.
footprint_delta(Mod, State, Op, Responses) ->
    Ref = maps:get(transaction_id, Op),
    {W0, B0} = footprint(maps:get(pending_operations, State)),
    Peak = peak(Mod, Ref, Mod:store(State, Op), Responses),
    {W1, B1} = footprint(maps:get(pending_operations, Peak)),
    _ = Mod:remove(Peak, Ref),
    {W1 - W0, B1 - B0}.

peak(Mod, Ref, #{pending_operations := P} = S, [{Node, Results} | Rest]) when is_map(P) ->
    {noreply, S1} = Mod:handle_response(S, Ref, Node, Results),
    case Mod:get(S1, Ref) of
        nil -> S;
        _ -> peak(Mod, Ref, S1, Rest)
    end;
peak(Mod, Ref, S, [{Node, Results} | Rest]) ->
    {noreply, S1} = Mod:handle_response(S, Ref, Node, Results),
    peak(Mod, Ref, S1, Rest);
peak(_Mod, _Ref, S, []) ->
    S.

%% Heap words and native bytes of what pending_operations holds: a map, a bare tracker,
%% or a tuple holding a tracker beside heap terms (words counted without the tracker's
%% reference itself).
footprint(Map) when is_map(Map) ->
    {words(Map), 0};
footprint(Ref) when is_reference(Ref) ->
    {0, native_bytes(Ref)};
footprint(Tuple) when is_tuple(Tuple) ->
    lists:foldl(fun(E, {W, B}) when is_reference(E) -> {W, B + native_bytes(E)};
                   (E, {W, B}) -> {W + words(E), B}
                end, {0, 0}, tuple_to_list(Tuple)).

%% erts_debug:size/1 (shared subterms once: a sub-request's children are nodes_data's)
%% is written in Erlang and takes minutes on millions of words: above ?SIZE_WALK words
%% the flat size stands in (the line says so), which counts shared children twice.
words(Term) ->
    case erts_debug:flat_size(Term) of
        Flat when Flat > ?SIZE_WALK -> put(phn_userpath_flat, true), Flat;
        _ -> erts_debug:size(Term)
    end.

native_bytes(Ref) ->
    try maps:get(bytes, phn_tracker:stats(Ref))
    catch error:_ -> 0
    end.
