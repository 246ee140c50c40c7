%% phn_tracker measurements: memory per pending operation (the tracker's own count and the
%% VM's), and the cost of record/4 and cleanup as the number of nodes and of operations
%% grows, next to the map mode of the drop-in. Run after `rebar3 as test compile`:
%%
%%   erl -noshell -pa _build/test/lib/process_hub_native/ebin \
%%       -pa _build/test/lib/process_hub_native/test -pa bench/ebin \
%%       -eval 'phn_bench_tracker:run(), halt().'
-module(phn_bench_tracker).

-export([run/0, memory/1, record_cost/0, cleanup_cost/0]).

-define(T, phn_tracker).

run() ->
    memory(100000),
    record_cost(),
    cleanup_cost(),
    ok.

%%% Memory

%% Bytes per pending operation of 3 nodes, for N operations: the tracker's `bytes' (its
%% table and operation structures) and the VM's total memory (which adds each operation's
%% term environment, allocated by ERTS), in four shapes.
memory(N) ->
    io:format("~nmemory per pending operation (~b operations of 3 nodes)~n", [N]),
    Cases = [{"no meta, nothing recorded", fun(_T, _I) -> ok end, none},
             {"no meta, one node answered ([{child, I}])",
              fun(T, I) -> {pending, 2} = ?T:record(T, I, b, [{child, I}]) end, none},
             {"meta = {I, <<\"meta\">>}, nothing recorded", fun(_T, _I) -> ok end, small},
             {"drop-in tracker mode (meta = the %RequestManager{} operation)", dropin, op}],
    [measure(N, Name, Step, Meta) || {Name, Step, Meta} <- Cases],
    map_mode(N),
    ok.

measure(N, Name, Step, Meta) ->
    Self = self(),
    %% A fresh process per case, so that its heap does not blur the VM's numbers.
    settle(),
    spawn_link(fun() ->
        erlang:garbage_collect(),
        Before = erlang:memory(total),
        T = ?T:new(),
        Base = maps:get(bytes, ?T:stats(T)),
        fill(T, N, Step, Meta),
        erlang:garbage_collect(),
        After = erlang:memory(total),
        #{bytes := Bytes, ops := N, term_envs := Envs} = ?T:stats(T),
        Heap = heap_bytes(Step, Meta, N),
        Self ! {done, io_lib:format(
                        "  ~-62s tracker bytes/op ~5b   VM bytes/op ~5b   (~b term envs)~n",
                        [Name, (Bytes - Base) div N, (After - Before - Heap) div N, Envs])},
        ?T:close(T)
    end),
    receive {done, Line} -> io:format("~s", [Line]) end.

fill(T, N, dropin, op) ->
    S = #{hub_id => bench, pending_operations => T},
    lists:foreach(fun(_) -> S = phn_request_manager:store(S, op()) end, lists:seq(1, N));
fill(T, N, Step, Meta) ->
    lists:foreach(fun(I) ->
                          Opts = case Meta of
                                     none -> #{timeout_ms => 600000};
                                     small -> #{timeout_ms => 600000, meta => {I, <<"meta">>}}
                                 end,
                          ok = ?T:track(T, I, [a, b, c], Opts),
                          Step(T, I)
                  end, lists:seq(1, N)).

%% Closed trackers are freed by the reaper thread: wait until it is idle.
settle() ->
    case maps:get(reaping_ops, ?T:stats()) of
        0 -> timer:sleep(200);
        _ -> timer:sleep(50), settle()
    end.

%% The drop-in case builds operation terms in the measuring process only transiently;
%% nothing is left on its heap after the collection.
heap_bytes(_, _, _) -> 0.

op() ->
    Op = phn_gen:operation(['a@h', 'b@h', 'c@h'], 1, []),
    Op#{expires_at := erlang:monotonic_time(millisecond) + 600000}.

%% The same operations in map mode: the pending_operations map's size on the heap.
map_mode(N) ->
    Ops = [op() || _ <- lists:seq(1, N)],
    Pending = lists:foldl(fun(Op, S) -> phn_request_manager:store(S, Op) end,
                          #{hub_id => bench, pending_operations => #{}}, Ops),
    Words = erts_debug:flat_size(maps:get(pending_operations, Pending)),
    io:format("  ~-62s heap bytes/op ~5b~n",
              ["map mode (the same operations in the pending_operations map)",
               Words * erlang:system_info(wordsize) div N]).

%%% Time per call (a measurement, not a test)

record_cost() ->
    io:format("~nrecord/4: microseconds per recorded response~n"),
    [record_case(NOps, NNodes) || {NOps, NNodes} <- [{1000, 3}, {100000, 3}, {1, 1000}, {1, 100000}]],
    io:format("~nmap mode handle_response/4 (the drop-in): microseconds per response~n"),
    [map_case(NNodes) || NNodes <- [3, 100, 1000]],
    ok.

record_case(NOps, NNodes) ->
    T = ?T:new(#{max_nodes_per_op => NNodes}),
    Nodes = [list_to_atom("n" ++ integer_to_list(I)) || I <- lists:seq(1, NNodes)],
    [ok = ?T:track(T, I, Nodes, #{timeout_ms => 600000}) || I <- lists:seq(1, NOps)],
    Calls = case NOps of
                1 -> [{1, N} || N <- Nodes];
                _ -> [{I, hd(Nodes)} || I <- lists:seq(1, NOps)]
            end,
    {Us, _} = timer:tc(fun() -> [?T:record(T, I, N, [x]) || {I, N} <- Calls] end),
    io:format("  ~7b operations x ~6b nodes: ~.3f us~n", [NOps, NNodes, Us / length(Calls)]),
    ?T:close(T).

map_case(NNodes) ->
    Nodes = [list_to_atom("n" ++ integer_to_list(I) ++ "@h") || I <- lists:seq(1, NNodes)],
    Op = phn_gen:operation(Nodes, 1, []),
    Ref = maps:get(transaction_id, Op),
    S0 = phn_request_manager:store(#{hub_id => bench, pending_operations => #{}}, Op),
    {Us, _} = timer:tc(fun() ->
                               lists:foldl(fun(N, S) ->
                                                   {noreply, S1} = phn_request_manager:handle_response(S, Ref, N, [x]),
                                                   S1
                                           end, S0, lists:droplast(Nodes))
                       end),
    io:format("  1 operation x ~6b nodes: ~.3f us~n", [NNodes, Us / max(1, NNodes - 1)]).

cleanup_cost() ->
    io:format("~ncleanup of k expired among n: microseconds per expired operation~n"),
    [cleanup_case(N, K) || {N, K} <- [{10000, 1000}, {1000000, 1000}]],
    ok.

cleanup_case(N, K) ->
    T = ?T:new(),
    Now = erlang:monotonic_time(millisecond),
    [ok = ?T:track(T, I, [a], #{deadline_ms => case I =< K of true -> Now - I; false -> Now + I end})
     || I <- lists:seq(1, N)],
    #{heap_moves := M0} = maps:get(debug, ?T:stats(T)),
    {Us, K} = timer:tc(fun() -> ?T:drop_expired(T, Now) end),
    #{heap_moves := M1} = maps:get(debug, ?T:stats(T)),
    io:format("  n = ~8b, k = ~5b: ~.3f us, ~.1f heap moves per expired operation~n",
              [N, K, Us / K, (M1 - M0) / K]),
    ?T:close(T).
