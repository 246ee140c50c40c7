%% phn_tracker figures beside the timed cases, for the harness (phn_bench): native bytes
%% per pending operation (the tracker's own stats/1 count and the VM's) against the map's
%% words per operation, the counted costs of cleanup (heap moves per expired operation),
%% and what one call costs, taken apart (the fixed costs behind the response lifecycle's
%% figures). Timings of record/4 and cleanup against the baselines are cases of
%% phn_bench_cases.
%%
%% Alone (after `make bench-build'):
%%   erl -noshell -pa _build/test/lib/process_hub_native/ebin \
%%       -pa _build/test/lib/process_hub_native/test -pa bench/ebin \
%%       -eval 'phn_bench_tracker:print(full), halt().'
-module(phn_bench_tracker).

-export([results/1, print/1]).

-define(T, phn_tracker).

print(Size) ->
    [io:format("~s~n", [L]) || #{line := L} <- results(Size)],
    ok.

results(smoke) ->
    memory(2000, [dropin]) ++ cleanup_cost([{10000, 100}]) ++ call_costs(10000);
results(quick) ->
    memory(20000, [dropin]) ++ cleanup_cost([{10000, 100}, {100000, 1000}]) ++
        call_costs(100000);
results(full) ->
    memory(100000, [none, recorded, small, dropin, dropin_heap, dropin100]) ++
        cleanup_cost([{10000, 100}, {100000, 1000}, {1000000, 10000}]) ++ call_costs(300000).

%%% Memory

%% Bytes per pending operation of 3 nodes, for N operations, in several shapes: the
%% tracker's `bytes' (stats/1: every native allocation of the table and its operations,
%% with the allocator's per-block overhead) and the VM's total memory (erlang:memory/1
%% before and after, in a fresh process), against the same operations in map mode: the
%% pending_operations map's flat size in words (erts_debug:flat_size, as if nothing were
%% shared) and its real size on the heap (erts_debug:size: the children lists that a
%% sub-request shares with nodes_data count once).
memory(N, Shapes) ->
    %% 100 children per node is 25 KB per operation on the heap: a tenth as many.
    [memory_case(case S of dropin100 -> max(1, N div 10); _ -> N end, S) || S <- Shapes].

shape(none) -> {"no meta, nothing recorded", fun(_T, _I) -> ok end, none};
shape(recorded) -> {"no meta, one node answered ([{child, I}])",
                    fun(T, I) -> {pending, 2} = ?T:record(T, I, b, [{child, I}]) end, none};
shape(small) -> {"meta {I, <<\"meta\">>}, nothing recorded", fun(_T, _I) -> ok end, small};
%% The drop-in's tracker mode with every operation in the tracker (heap_max_nodes 0: the
%% layout for operations of more than 32 nodes), and with its default layout, where an
%% operation of 3 nodes is counted on the heap (the tracker holds nothing of it).
shape(dropin) -> {"drop-in tracker mode, every operation in the tracker, the %RequestManager{} "
                  "operation, 1 child per node", dropin, 1};
shape(dropin100) -> {"drop-in tracker mode, every operation in the tracker, the %RequestManager{} "
                     "operation, 100 children per node", dropin, 100};
shape(dropin_heap) -> {"drop-in tracker mode, default layout (counted on the heap), the "
                       "%RequestManager{} operation, 1 child per node", dropin_heap, 1}.

memory_case(N, Shape) ->
    {Name, Step, Meta} = shape(Shape),
    Self = self(),
    settle(),
    %% A fresh process per case, so that its heap does not blur the VM's numbers.
    {Pid, MRef} = spawn_monitor(fun() ->
        erlang:garbage_collect(),
        Before = erlang:memory(total),
        T = ?T:new(),
        Base = maps:get(bytes, ?T:stats(T)),
        Kept = fill(T, N, Step, Meta),
        erlang:garbage_collect(),
        After = erlang:memory(total),
        #{bytes := Bytes, ops := Ops} = ?T:stats(T),
        Ops = case Step of dropin_heap -> 0; _ -> N end,
        %% What the state holds on the heap stays live until measured.
        _ = erlang:phash2(Kept),
        ?T:close(T),
        Self ! {self(), (Bytes - Base) div N, (After - Before) div N}
    end),
    {Tracker, VM} = receive
                        {Pid, B, V} -> {B, V};
                        {'DOWN', MRef, process, Pid, Why} -> error({memory_case, Shape, Why})
                    end,
    receive {'DOWN', MRef, process, Pid, _} -> ok end,
    case Step of
        dropin_heap ->
            %% Nothing native: the VM's growth is the figure.
            {Flat, Shared} = map_mode(N, Meta),
            Line = io_lib:format("memory per pending operation, ~b operations of 3 nodes, ~s: "
                                 "tracker ~b B (stats/1), VM ~b B; map mode ~b B flat, ~b B "
                                 "with sharing",
                                 [N, Name, Tracker, VM, Flat, Shared]),
            phn_bench:result(Line, []);
        dropin ->
            {Flat, Shared} = map_mode(N, Meta),
            Line = io_lib:format("memory per pending operation, ~b operations of 3 nodes, ~s: "
                                 "tracker ~b B (stats/1), VM ~b B; map mode ~b B flat (~b words), "
                                 "~b B with sharing; ratio map-flat/tracker ~s, "
                                 "map-shared/tracker ~s",
                                 [N, Name, Tracker, VM, Flat, Flat div 8, Shared,
                                  x(Flat, Tracker), x(Shared, Tracker)]),
            phn_bench:result(Line, []);
        _ ->
            phn_bench:result(io_lib:format("memory per pending operation, ~b operations of 3 "
                                           "nodes, ~s: tracker ~b B (stats/1), VM ~b B",
                                           [N, Name, Tracker, VM]), [])
    end.

x(_, 0) -> "-";
x(A, B) -> io_lib:format("~.2fx", [A / B]).

fill(T, N, Layout, Children) when Layout =:= dropin; Layout =:= dropin_heap ->
    %% The state each store returns is the next one's (tracker mode keeps heap terms
    %% beside the tracker in pending_operations).
    Max = case Layout of dropin -> 0; dropin_heap -> 32 end,
    S0 = #{hub_id => bench, pending_operations => phn_rm_tracker:pending(T, #{heap_max_nodes => Max})},
    lists:foldl(fun(_, S) -> phn_request_manager:store(S, op(Children)) end, S0,
                lists:seq(1, N));
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

op(Children) ->
    Op = phn_gen:operation(['a@h', 'b@h', 'c@h'], Children, []),
    Op#{expires_at := erlang:monotonic_time(millisecond) + 600000}.

%% The same operations in map mode: bytes per operation of the pending_operations map,
%% flat and with sharing.
map_mode(N, Children) ->
    Ops = [op(Children) || _ <- lists:seq(1, N)],
    Pending = lists:foldl(fun(Op, S) -> phn_request_manager:store(S, Op) end,
                          #{hub_id => bench, pending_operations => #{}}, Ops),
    Map = maps:get(pending_operations, Pending),
    W = erlang:system_info(wordsize),
    %% Every operation has the same shape: the sharing-aware size of one (erts_debug:size/1
    %% is too slow for the whole map) stands in for its flat size.
    Op = hd(Ops),
    Flat = erts_debug:flat_size(Map),
    Shared = Flat - N * (erts_debug:flat_size(Op) - erts_debug:size(Op)),
    {Flat * W div N, Shared * W div N}.

%%% Counted costs

%% Expiring k of n: heap moves per expired operation (O(log n), never O(n)).
cleanup_cost(Cases) ->
    Parts = [cleanup_case(N, K) || {N, K} <- Cases],
    [phn_bench:result(["tracker drop_expired, heap moves per expired operation (counted, "
                       "O(log n)): ", lists:join(", ", Parts)], [])].

cleanup_case(N, K) ->
    T = ?T:new(),
    Now = erlang:monotonic_time(millisecond),
    [ok = ?T:track(T, I, [a], #{deadline_ms => case I =< K of true -> Now - I; false -> Now + I end})
     || I <- lists:seq(1, N)],
    #{heap_moves := M0} = maps:get(debug, ?T:stats(T)),
    K = ?T:drop_expired(T, Now),
    #{heap_moves := M1} = maps:get(debug, ?T:stats(T)),
    ?T:close(T),
    io_lib:format("n = ~b, k = ~b: ~.1f", [N, K, (M1 - M0) / K]).

%%% What one call costs

%% Nanoseconds per call (median of 5 rounds of N calls) of the steps a response goes
%% through, on an operation of 10 nodes that stays pending: the floor of any NIF call
%% (size/1), record/4 of an unknown operation (the reference's key, the lookup, the
%% response's image written and dropped), record/4 kept as pending, track/4 then cancel/2
%% of a fresh operation, and erlang:term_to_binary/1 of a reference (the key's encoding,
%% which the NIF does with enif_term_to_binary on every call).
call_costs(N) ->
    %% The trackers of the cases before are freed by the reaper thread: not meanwhile.
    settle(),
    T = ?T:new(),
    Ref = make_ref(),
    Nodes = [list_to_atom("cost" ++ integer_to_list(I) ++ "@h") || I <- lists:seq(1, 10)],
    %% Every node owes more chunks than a round sends: the operation stays pending. Tracked
    %% afresh before each round, so that a round's kept chunks are freed.
    Fresh = fun() ->
                    _ = ?T:cancel(T, Ref),
                    ok = ?T:track(T, Ref, [{Nd, 1 bsl 31} || Nd <- Nodes],
                                  #{timeout_ms => 600000})
            end,
    Fresh(),
    Unknown = make_ref(),
    T2 = ?T:new(),
    Cases = [{"size/1 (NIF floor)", fun() -> ?T:size(T) end},
             {"record/4 unknown operation", fun() -> ?T:record(T, Unknown, hd(Nodes), ok) end},
             {"record/4 pending ([{child, ok}])",
              fun() -> ?T:record(T, Ref, hd(Nodes), [{child, ok}]) end},
             {"track/4 (10 nodes) + cancel/2",
              fun() -> R = make_ref(),
                       ok = ?T:track(T2, R, Nodes, #{timeout_ms => 600000}),
                       ok = ?T:cancel(T2, R)
              end},
             {"term_to_binary/1 of a reference", fun() -> erlang:term_to_binary(Ref) end}],
    Figures = [{Name, median([begin Fresh(), per_call(F, N) end || _ <- lists:seq(1, 5)])}
               || {Name, F} <- Cases],
    ?T:close(T),
    ?T:close(T2),
    [phn_bench:result(["tracker call costs, ns per call (median of 5 rounds of ",
                       integer_to_list(N), "): ",
                       lists:join(", ", [io_lib:format("~s ~.1f", [Name, Ns])
                                         || {Name, Ns} <- Figures])], [])].

per_call(F, N) ->
    Start = erlang:monotonic_time(nanosecond),
    loop(F, N),
    (erlang:monotonic_time(nanosecond) - Start) / N.

loop(_F, 0) -> ok;
loop(F, N) -> _ = F(), loop(F, N - 1).

median(L) -> lists:nth((length(L) + 1) div 2, lists:sort(L)).
