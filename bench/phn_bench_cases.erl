%% The benchmark cases: sizes from issue 6, a subset for the quick run. Inputs come from
%% the test generators (test/phn_gen.erl), so they have ProcessHub's shapes.
-module(phn_bench_cases).

-export([cases/1]).

-define(NIF, phn_request_manager).
-define(ERL, phn_request_manager_erl).

cases(quick) ->
    [lifecycle(N) || N <- [10, 100, 1000]] ++
    [cleanup(100000)] ++
    [split_children(N) || N <- [1000, 100000]] ++
    [split_pids(100000)] ++
    [forward(1000)];
cases(full) ->
    [lifecycle(N) || N <- [10, 100, 1000]] ++
    [cleanup(N) || N <- [10000, 100000, 1000000]] ++
    [split_children(N) || N <- [1000, 10000, 100000, 1000000]] ++
    [split_pids(N) || N <- [20000, 100000, 1000000]] ++
    [forward(N) || N <- [10, 1000]].

%% One response from every node, each followed by the completion check, as the
%% coordinator does; the time is per response.
lifecycle(Nodes) ->
    #{label => io_lib:format("response lifecycle, ~b nodes, per response", [Nodes]),
      setup => fun() -> phn_gen:operation(phn_gen:node_names(Nodes), 1, []) end,
      impls => [{"map-nif", fun(Op) -> lifecycle(?NIF, Op) end},
                {"erl", fun(Op) -> lifecycle(?ERL, Op) end},
                {"erl+MapSet", fun(Op) -> lifecycle_elixir(Op) end}],
      per_call => Nodes,
      ratios => [{"erl", "map-nif"}, {"erl+MapSet", "map-nif"}]}.

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

cleanup(N) ->
    Now = 1000000,
    #{label => io_lib:format("cleanup_expired, ~b pending, 1% expired", [N]),
      setup => fun() ->
          #{pending_operations => phn_gen:pending(N, fun(I) ->
              case I rem 100 of 0 -> Now - 1; _ -> Now + 1 end end)}
      end,
      impls => [{"map-nif", fun(S) -> ?NIF:cleanup_expired(S, Now) end},
                {"erl", fun(S) -> ?ERL:cleanup_expired(S, Now) end}],
      per_call => 1,
      ratios => [{"erl", "map-nif"}]}.

split_children(N) ->
    #{label => io_lib:format("split, ~b children", [N]),
      setup => fun() -> phn_gen:start_request(phn_gen:children(N)) end,
      impls => [{"nif", fun(R) -> ?NIF:split(R) end},
                {"erl", fun(R) -> ?ERL:split(R) end},
                {"Enum.chunk_every", fun(R) -> enum_split(R, children, 1000) end}],
      per_call => 1,
      ratios => [{"erl", "nif"}, {"Enum.chunk_every", "nif"}]}.

split_pids(N) ->
    #{label => io_lib:format("split, ~b pids", [N]),
      setup => fun() -> phn_gen:pids_register(N) end,
      impls => [{"nif", fun(R) -> ?NIF:split(R) end},
                {"erl", fun(R) -> ?ERL:split(R) end},
                {"Enum.chunk_every", fun(R) -> enum_split_map(R) end}],
      per_call => 1,
      ratios => [{"erl", "nif"}, {"Enum.chunk_every", "nif"}]}.

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
