%% The benchmark cases: sizes from issue 6, a subset for the quick run. Inputs come from
%% the test generators (test/phn_gen.erl), so they have ProcessHub's shapes.
-module(phn_bench_cases).

-export([cases/1]).

-define(NIF, phn_request_manager).
-define(ERL, phn_request_manager_erl).

cases(quick) ->
    [lifecycle(N) || N <- [10, 100, 1000]] ++
    [cleanup(100000)] ++
    [split_children(N) || N <- [10, 1000, 100000]] ++
    [split_pids(100000)] ++
    [forward(1000)];
%% The cases that build the most (a million pending operations three times over, for
%% cleanup) run last: all run in one process, and what a big case leaves to the VM's
%% allocators slowed the split lines after it (bench/NOTES.md).
cases(full) ->
    [split_children(N) || N <- [10, 100, 1000, 10000, 100000, 1000000]] ++
    [split_pids(N) || N <- [20000, 100000, 1000000]] ++
    [forward(N) || N <- [10, 1000]] ++
    [lifecycle(N) || N <- [10, 100, 1000]] ++
    [lifecycle_among(100000)] ++
    [cleanup(N) || N <- [10000, 100000]] ++
    [cleanup(100000, distinct)] ++
    [cleanup(1000000)].

%% Issue 6's targets for the raw native table against ProcessHub's algorithm: detail
%% beside issue 11's, which are judged on the user path (phn_bench_userpath).
lifecycle_target(10) -> [{"erl", "tracker", 3, "issue 6, 10 nodes"}];
lifecycle_target(100) -> [{"erl", "tracker", 50, "issue 6, 100 nodes"}];
lifecycle_target(1000) -> [{"erl", "tracker", 500, "issue 6, 1000 nodes"}];
lifecycle_target(_) -> [].

%% One response from every node, each followed by the completion check, as the
%% coordinator does; the time is per response. The native table (tracker) tracks the
%% operation, then records each node's response, whose answer ({pending, Missing} or
%% {complete, Collected}) is the completion check; its time includes track/4 (the
%% baselines start from a built operation). map-nif is the drop-in in map mode.
lifecycle(Nodes) ->
    Names = phn_gen:node_names(Nodes),
    #{label => io_lib:format("response lifecycle, ~b nodes, per response", [Nodes]),
      setup => fun() ->
          #{op => phn_gen:operation(Names, 1, []), tracker => phn_tracker:new(),
            ref => make_ref(), nodes => Names}
      end,
      impls => [{"tracker", fun lifecycle_tracker/1},
                {"map-nif", fun(#{op := Op}) -> lifecycle(?NIF, Op) end},
                {"erl", fun(#{op := Op}) -> lifecycle(?ERL, Op) end},
                {"erl+MapSet", fun(#{op := Op}) -> lifecycle_elixir(Op) end}],
      teardown => fun(#{tracker := T}) -> phn_tracker:close(T) end,
      per_call => Nodes,
      ratios => [{"erl", "tracker"}, {"erl", "map-nif"}, {"erl+MapSet", "tracker"},
                 {"erl+MapSet", "map-nif"}],
      targets => lifecycle_target(Nodes),
      target_group => detail}.

lifecycle_tracker(#{tracker := T, ref := Ref, nodes := Nodes}) ->
    ok = phn_tracker:track(T, Ref, Nodes, #{timeout_ms => 600000}),
    record_all(T, Ref, Nodes).

record_all(T, Ref, [Node | Rest]) ->
    case phn_tracker:record(T, Ref, Node, [{child, ok}]) of
        {pending, _} -> record_all(T, Ref, Rest);
        {complete, _} -> ok
    end.

%% The same, for an operation of 3 nodes among Pending others: the coordinator's map (or
%% the tracker) holds them all. Per response: the map modes get the operation from the
%% pending map, process the response, check completion and put it back, as ProcessHub's
%% handle_response does.
lifecycle_among(Pending) ->
    Names = phn_gen:node_names(3),
    #{label => io_lib:format("response lifecycle, 3 nodes, among ~b pending operations, "
                             "per response", [Pending]),
      setup => fun() ->
          Op = phn_gen:operation(Names, 1, []),
          Ref = maps:get(transaction_id, Op),
          Others = phn_gen:pending(Pending, fun(_) -> 1 bsl 40 end),
          T = phn_tracker:new(),
          [ok = phn_tracker:track(T, R, Names, #{timeout_ms => 600000}) || R <- maps:keys(Others)],
          #{map => Others#{Ref => Op}, ref => Ref, tracker => T, nodes => Names}
      end,
      impls => [{"tracker", fun lifecycle_tracker/1},
                {"map-nif", fun(In) -> lifecycle_in_map(?NIF, In) end},
                {"erl", fun(In) -> lifecycle_in_map(?ERL, In) end}],
      teardown => fun(#{tracker := T}) -> phn_tracker:close(T) end,
      per_call => 3,
      ratios => [{"erl", "tracker"}, {"erl", "map-nif"}]}.

lifecycle_in_map(Mod, #{map := Map, ref := Ref, nodes := Nodes}) ->
    lists:foldl(
        fun(Node, M) ->
            {_, Op1} = Mod:process_response(maps:get(Ref, M), Node, [{child, ok}]),
            _ = Mod:'all_responded?'(Op1),
            M#{Ref := Op1}
        end,
        Map, Nodes).

lifecycle(Mod, Op) ->
    lists:foldl(
        fun({Node, _}, Acc) ->
            {_, Acc1} = Mod:process_response(Acc, Node, [{child, ok}]),
            _ = Mod:'all_responded?'(Acc1),
            Acc1
        end,
        Op,
        maps:get(nodes_data, Op)
    ).

%% ProcessHub's completion check is Elixir's MapSet: MapSet.new of the expected nodes,
%% then MapSet.equal?; recording is the plain-Erlang one.
lifecycle_elixir(Op) ->
    lists:foldl(
        fun({Node, _}, Acc) ->
            Acc1 = ?ERL:record_response(Acc, Node, [{child, ok}], results),
            Expected = 'Elixir.MapSet':new([N || {N, _} <- maps:get(nodes_data, Acc1)]),
            _ = 'Elixir.MapSet':'equal?'(Expected, maps:get(completed_nodes, Acc1)),
            Acc1
        end,
        Op,
        maps:get(nodes_data, Op)
    ).

%% cleanup_expired with N pending, 1 % expired, through the drop-in. The map modes filter
%% the immutable map. Tracker mode, the operations stored through store/2: `tracker', the
%% default layout, where operations of a few nodes are counted on the heap and found by
%% the deadline index (the state is a value: the same input every call), and
%% `tracker-native', every operation in the native tracker, found by its take_expired
%% (the tracker is mutable, so the expired operations are tracked again before each
%% call, untimed). Both then drop the expired ones from the state's map of operations. Deadlines: `two' puts the operations on two deadlines (expired or
%% not), `distinct' gives each its own (the deadline index then has N keys).
cleanup(N) ->
    cleanup(N, two).

cleanup(N, Spread) ->
    Now = 1000000,
    Deadline = case Spread of
                   two -> fun(I) -> case I rem 100 of 0 -> Now - 1; _ -> Now + 1 end end;
                   distinct -> fun(I) -> case I rem 100 of 0 -> Now - I; _ -> Now + I end end
               end,
    #{label => io_lib:format("cleanup_expired, ~b pending, 1% expired~s",
                             [N, case Spread of two -> ""; distinct -> ", distinct deadlines" end]),
      setup => fun() ->
          Template = phn_test_helpers:make_operation(#{}),
          Ops = [Template#{transaction_id := make_ref(), expires_at := Deadline(I)}
                 || I <- lists:seq(1, N)],
          Map = maps:from_list([{maps:get(transaction_id, Op), Op} || Op <- Ops]),
          Heap = lists:foldl(fun(Op, S) -> ?NIF:store(S, Op) end,
                             #{pending_operations => phn_tracker:new()}, Ops),
          T = phn_tracker:new(),
          Native = lists:foldl(fun(Op, S) -> ?NIF:store(S, Op) end,
                               #{pending_operations => phn_rm_tracker:pending(T, #{heap_max_nodes => 0})},
                               Ops),
          Expired = [{Ref, Op} || #{transaction_id := Ref, expires_at := D} = Op <- Ops, D < Now],
          #{map => #{pending_operations => Map}, heap => Heap, tracker => T,
            expired => Expired, state => Native}
      end,
      impls => [{"tracker", fun(#{heap := S}) -> ?NIF:cleanup_expired(S, Now) end},
                {"tracker-native", fun(S) -> ?NIF:cleanup_expired(S, Now) end, fun refill/1},
                {"map-nif", fun(#{map := S}) -> ?NIF:cleanup_expired(S, Now) end},
                {"erl", fun(#{map := S}) -> ?ERL:cleanup_expired(S, Now) end}],
      teardown => fun(#{tracker := T, heap := H}) ->
                      phn_tracker:close(T),
                      phn_tracker:close(phn_rm_tracker:tracker(H))
                  end,
      per_call => 1,
      ratios => [{"erl", "tracker"}, {"erl", "tracker-native"}, {"erl", "map-nif"}],
      targets => case {N, Spread} of
                     {100000, two} -> [{"erl", "tracker", 50, "issue 11, 100 000 pending at 1 %"}];
                     _ -> []
                 end}.

refill(#{tracker := T, expired := Expired, state := S}) ->
    %% As the drop-in's store tracks them: the nodes and the deadline, no term (the
    %% first call finds them still tracked).
    [_ = phn_tracker:track(T, Ref, [node()], #{deadline_ms => D})
     || {Ref, #{expires_at := D}} <- Expired],
    S.

split_children(N) ->
    #{label => io_lib:format("split, ~b children", [N]),
      setup => fun() -> phn_gen:start_request(phn_gen:children(N)) end,
      impls => [{"nif", fun(R) -> ?NIF:split(R) end},
                {"erl", fun(R) -> ?ERL:split(R) end},
                {"Enum.chunk_every", fun(R) -> enum_split(R, children, 1000) end}],
      per_call => 1,
      ratios => [{"erl", "nif"}, {"Enum.chunk_every", "nif"}],
      targets => case N of
                     100000 -> [{"erl", "nif", 3, "issue 11, split of 100 000 children"}];
                     _ -> [{"erl", "nif", 1.0, "issue 11, split at every size"}]
                 end}.

split_pids(N) ->
    #{label => io_lib:format("split, ~b pids", [N]),
      setup => fun() -> phn_gen:pids_register(N) end,
      impls => [{"nif", fun(R) -> ?NIF:split(R) end},
                {"erl", fun(R) -> ?ERL:split(R) end},
                {"Enum.chunk_every", fun(R) -> enum_split_map(R) end}],
      per_call => 1,
      ratios => [{"erl", "nif"}, {"Enum.chunk_every", "nif"}],
      targets => [{"erl", "nif", 1.0, "issue 11, split at every size"}]}.

%% ProcessHub's own pipeline: Enum.chunk_every then a struct per chunk.
enum_split(Req, Field, Size) ->
    [Req#{Field := C} || C <- 'Elixir.Enum':chunk_every(maps:get(Field, Req), Size)].

enum_split_map(#{'__struct__' := Mod, children_data := Data}) ->
    Fresh = Mod:'__struct__'(),
    [Fresh#{children_data := maps:from_list(C)}
     || C <- 'Elixir.Enum':chunk_every(maps:to_list(Data), 10000)].

forward(N) ->
    #{label => io_lib:format("populate_forward, ~b targets into ~b keys", [N, N]),
      setup => fun() ->
          Keys = [list_to_atom("k" ++ integer_to_list(I)) || I <- lists:seq(1, N)],
          {[{K, []} || K <- Keys], lists:reverse(Keys)}
      end,
      impls => [{"nif", fun({F, T}) -> ?NIF:populate_forward(F, T, child) end},
                {"erl", fun({F, T}) -> ?ERL:populate_forward(F, T, child) end}],
      per_call => 1,
      ratios => [{"erl", "nif"}]}.
