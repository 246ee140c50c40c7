%% PropEr fuzzing of every NIF: each export of phn_nif (request manager, partition_* and
%% tracker_*) called with arbitrary terms and with near misses of its real arguments (the
%% right shape with a wrong type inside, improper lists, deep nesting, an 8 MB binary,
%% atoms at the 255-character limit in Latin-1 and in 4-byte UTF-8, integers at the 64-bit
%% edges and beyond, live, closed and orphaned trackers, other resources), then the public
%% wrappers (phn_tracker, phn_partition, phn_request_manager) the same way.
%%
%% Every call must return or raise the documented class: a raw NIF returns or raises
%% error:badarg (never enomem: nothing here is big enough to run out of memory), and what
%% a tracker NIF returns has its documented shape ({error, Reason} with a documented
%% Reason among them); a wrapper returns or raises badarg or function_clause. At the end
%% the VM is alive, the NIFs answer correctly, and once the processes that owned the
%% trackers are gone the tracker memory is back to its baseline (phn_tracker:stats/0).
%% Under a minute.
-module(phn_30_nif_fuzz_tests).

-include_lib("proper/include/proper.hrl").
-include_lib("eunit/include/eunit.hrl").

-define(STATIC, 'Elixir.ProcessHub.Strategy.PartitionTolerance.StaticQuorum').
-define(DYNAMIC, 'Elixir.ProcessHub.Strategy.PartitionTolerance.DynamicQuorum').
-define(MAJORITY, 'Elixir.ProcessHub.Strategy.PartitionTolerance.MajorityQuorum').
-define(PIDS_REG, 'Elixir.ProcessHub.Request.Handler.PidsRegisterRequest').

-define(NIF_RUNS, 3000).
-define(WRAPPER_RUNS, 800).

nif_fuzz_test_() ->
    {timeout, 120, fun run_all/0}.

run_all() ->
    Base = phn_tracker_mem:quiet_stats(),
    Parent = self(),
    %% Everything runs in a process of its own, so that every tracker it made (owned by it)
    %% is freed when it exits.
    {Pid, Mon} = spawn_monitor(fun() -> Parent ! {self(), fuzz()} end),
    Result = receive {Pid, R} -> R after 110000 -> exit(Pid, kill), timeout end,
    receive {'DOWN', Mon, process, Pid, _} -> ok end,
    ?assertEqual([], Result),
    %% The VM is alive and the NIFs still right.
    Op = phn_gen:operation(['a@h', 'b@h'], 1, []),
    {pending, Op1} = phn_request_manager:process_response(Op, 'a@h', []),
    ?assertMatch({complete, _}, phn_request_manager:process_response(Op1, 'b@h', [])),
    T = phn_tracker:new(),
    ok = phn_tracker:track(T, r, [n@h], #{timeout_ms => 1000}),
    ?assertEqual({complete, [{n@h, x}]}, phn_tracker:record(T, r, n@h, x)),
    phn_tracker:close(T),
    %% Memory back to the baseline once the owners are gone (big tables are freed by the
    %% reaper thread, destructors run at garbage collection).
    phn_tracker_mem:await_baseline(Base).

%% The list of failures (empty when every property holds).
fuzz() ->
    put(big_edges, big_edges()),
    Props = [{N, prop_nif(N, Args), ?NIF_RUNS} || {N, Args} <- nif_args()] ++
            [{N, prop_wrapper(M, F, Args), ?WRAPPER_RUNS} || {N, M, F, Args} <- wrapper_args()],
    lists:append(
      [case proper:quickcheck(P, [{numtests, Runs}, noshrink, quiet]) of
           true -> [];
           _ -> [{Name, proper:counterexample()}]
       end || {Name, P, Runs} <- Props]).

%%% Properties

prop_nif(Name, ArgGens) ->
    ?FORALL(Args, ArgGens,
            begin
                Ctx = context(),
                Real = [subst(A, Ctx) || A <- Args],
                Outcome = try apply(phn_nif, Name, Real) of
                              R -> {returned, R}
                          catch
                              C:E -> {raised, C, E}
                          end,
                close_context(Ctx),
                ok_nif(Name, Outcome)
            end).

prop_wrapper(M, F, ArgGens) ->
    ?FORALL(Args, ArgGens,
            begin
                Ctx = context(),
                Real = [subst(A, Ctx) || A <- Args],
                Outcome = try apply(M, F, Real) of
                              _ -> returned
                          catch
                              error:badarg -> raised;
                              error:function_clause -> raised;
                              C:E -> {unexpected, C, E}
                          end,
                close_context(Ctx),
                Outcome =/= returned andalso Outcome =/= raised andalso
                    io:format(user, "~p:~p raised ~P~n", [M, F, Outcome, 12]),
                Outcome =:= returned orelse Outcome =:= raised
            end).

ok_nif(Name, {raised, error, badarg}) -> Name =/= tracker_global_stats;
ok_nif(Name, {returned, R}) ->
    case shape(Name, R) of
        true -> true;
        false -> io:format(user, "~p returned ~P~n", [Name, R, 12]), false
    end;
ok_nif(Name, Other) ->
    io:format(user, "~p: ~P~n", [Name, Other, 12]),
    false.

%% What each tracker NIF documents that it returns.
shape(tracker_track, R) ->
    R =:= ok orelse lists:member(R, [{error, already_tracked}, {error, limit}, {error, closed}]);
shape(tracker_record, {pending, N}) -> is_integer(N) andalso N >= 0;
shape(tracker_record, {complete, L}) -> collected(L);
shape(tracker_record, {complete, L, _Meta}) -> collected(L);
shape(tracker_record, {ignored, Why}) ->
    lists:member(Why, [unknown_operation, unexpected_node, extra_chunk]);
shape(tracker_count, {pending, N}) -> is_integer(N) andalso N >= 0;
shape(tracker_count, complete) -> true;
shape(tracker_count, {ignored, Why}) ->
    lists:member(Why, [unknown_operation, unexpected_node, extra_chunk]);
shape(tracker_count, _) -> false;
shape(tracker_get, R) -> info_result(R);
shape(tracker_take, R) -> info_result(R);
shape(tracker_peek, {ok, _Meta, N}) -> is_integer(N) andalso N >= 0;
shape(tracker_peek, R) -> R =:= {error, not_found};
shape(tracker_cancel, R) -> R =:= ok orelse R =:= {error, not_found};
shape(tracker_update, R) -> R =:= ok orelse R =:= {error, not_found};
shape(tracker_cleanup, {More, Out}) ->
    (More =:= done orelse More =:= more) andalso
        ((is_integer(Out) andalso Out >= 0) orelse is_list(Out)); % infos or references
shape(tracker_size, N) -> is_integer(N) andalso N >= 0;
shape(tracker_stats, M) -> is_map(M) andalso is_map_key(ops, M) andalso is_map_key(bytes, M);
shape(tracker_global_stats, M) -> is_map(M) andalso is_map_key(trackers, M);
shape(tracker_close, R) -> R =:= ok;
shape(tracker_new, T) -> is_reference(T);
shape(partition_eval, {B, S}) -> is_boolean(B) andalso is_map(S);
shape(partition_sync_log, S) -> is_map(S);
shape(tracker_record, _) -> false;
shape(tracker_cleanup, _) -> false;
shape(_, _) -> true.

collected(L) -> is_list(L) andalso lists:all(fun({N, _}) -> is_atom(N); (_) -> false end, L).

info_result({ok, I}) -> info(I);
info_result(R) -> R =:= {error, not_found}.

info(#{ref := _, meta := _, collected := C, missing := M, deadline := D}) ->
    collected(C) andalso is_list(M) andalso (is_integer(D) orelse D =:= infinity);
info(_) -> false.

%%% Context: live, closed and orphaned trackers, refs tracked in the live one

-define(LIVE, '$live_tracker').
-define(CLOSED, '$closed_tracker').
-define(ORPHAN, '$orphan_tracker').
-define(FOREIGN, '$foreign_resource').
-define(R1, '$tracked_ref_1').
-define(R2, '$tracked_ref_2').

context() ->
    T = phn_tracker:new(#{max_ops => 4, max_nodes_per_op => 50}),
    R1 = {tx, 1},
    R2 = make_ref(),
    ok = phn_tracker:track(T, R1, ['a@h', {'b@h', 2}], #{timeout_ms => 60000, meta => m1}),
    ok = phn_tracker:track(T, R2, ['a@h'], #{deadline_ms => 0}),
    {pending, 2} = phn_tracker:record(T, R1, 'b@h', [first]),
    Closed = phn_tracker:new(),
    ok = phn_tracker:close(Closed),
    Self = self(),
    Orphan = spawn(fun() -> Self ! {orphan, phn_tracker:new()} end),
    O = receive {orphan, X} -> X after 5000 -> error({no_orphan, Orphan}) end,
    (get(big_edges))#{?LIVE => T, ?CLOSED => Closed, ?ORPHAN => O,
                      ?FOREIGN => atomics:new(1, []), ?R1 => R1, ?R2 => R2}.

close_context(#{?LIVE := T}) ->
    phn_tracker:close(T).

%% Placeholders anywhere in a generated term (lists, improper ones too, tuples, maps).
subst(A, Ctx) when is_atom(A) -> maps:get(A, Ctx, A);
subst([H | T], Ctx) -> [subst(H, Ctx) | subst(T, Ctx)];
subst(T, Ctx) when is_tuple(T) -> list_to_tuple(subst(tuple_to_list(T), Ctx));
subst(M, Ctx) when is_map(M) ->
    maps:from_list([{subst(K, Ctx), subst(V, Ctx)} || {K, V} <- maps:to_list(M)]);
subst(X, _Ctx) -> X.

%%% Generators

%% Edge values. The big ones are generated as placeholder atoms, replaced by the real
%% values (built once) only when the call is made: PropEr walks every generated term, which
%% would be slow on an 8 MB binary or a 100 000-deep list.
big_edges() ->
    #{'$edge_bin' => binary:copy(<<7>>, 8 * 1024 * 1024),
      '$edge_deep' => lists:foldl(fun(_, Acc) -> [Acc] end, [], lists:seq(1, 100000)),
      '$edge_deep_tuple' => lists:foldl(fun(_, Acc) -> {Acc} end, x, lists:seq(1, 20000)),
      '$edge_long_list' => lists:seq(1, 70000),
      '$edge_big_map' => maps:from_list([{I, I} || I <- lists:seq(1, 100)])}.

edges() ->
    case persistent_term:get({?MODULE, edges}, undefined) of
        undefined ->
            E = make_edges(),
            persistent_term:put({?MODULE, edges}, E),
            E;
        E -> E
    end.

make_edges() ->
    ['$edge_bin', '$edge_deep', '$edge_deep_tuple', '$edge_long_list', '$edge_big_map'] ++
        [list_to_atom(lists:duplicate(255, $a)),
         list_to_atom(lists:duplicate(255, 16#1F600)),
         list_to_atom(lists:duplicate(254, $z) ++ "@"),
         '', 0, -1, 1 bsl 31, 1 bsl 32, 1 bsl 63, (1 bsl 63) - 1, -(1 bsl 63), 1 bsl 64,
         -(1 bsl 64), 1 bsl 2000, 1.0e308, -0.0, 0.5, <<>>, <<1:1>>, [], #{}, {}, "",
         [a | b], make_ref(), self(), fun() -> ok end, fun lists:map/2, hd(erlang:ports()),
         infinity, undefined, nil, true, false, none, keep, results, children].

edge() -> elements(edges()).

%% Any term, built from a generated seed with rand (PropEr's own recursive generators are
%% slow at this depth): nested lists, improper lists, tuples, maps, scalars of every type.
any_term() ->
    ?LET(Seed, {integer(1, 1 bsl 40), integer(1, 1 bsl 40), integer(1, 1 bsl 40)},
         begin
             rand:seed(exsss, Seed),
             rterm(rand:uniform(5))
         end).

rterm(0) -> rscalar();
rterm(D) ->
    Kids = fun() -> [rterm(D - 1) || _ <- lists:seq(1, rand:uniform(5) - 1)] end,
    case rand:uniform(10) of
        1 -> Kids();
        2 -> improper(Kids(), rterm(D - 1));
        3 -> list_to_tuple(Kids());
        4 -> maps:from_list([{rscalar(), rterm(D - 1)} || _ <- lists:seq(1, rand:uniform(4) - 1)]);
        5 -> {rterm(D - 1), rterm(D - 1)};
        _ -> rscalar()
    end.

rscalar() ->
    case rand:uniform(12) of
        1 -> rand:uniform(1 bsl 70) - (1 bsl 69);
        2 -> rand:uniform(2000) - 1000;
        3 -> (rand:uniform() - 0.5) * 1.0e12;
        4 -> list_to_atom([$a + rand:uniform(26) - 1 || _ <- lists:seq(1, rand:uniform(8))]);
        5 -> rand:bytes(rand:uniform(40) - 1);
        6 -> <<(rand:uniform(255)):(rand:uniform(7))>>;
        7 -> lists:nth(rand:uniform(5), ['a@h', 'b@h', 'n1@host', node(), nil]);
        _ -> lists:nth(rand:uniform(length(edges())), edges())
    end.

improper([], T) -> [T | T];
improper(L, T) ->
    try L ++ T
    catch error:badarg -> [L | T] % L itself improper
    end.

%% Mostly the right value, otherwise a near miss of it or anything at all.
near(Right) ->
    frequency([{4, Right}, {4, ?LET(R, Right, mutate(R))}, {1, any_term()}, {1, edge()}]).

mutate(R) ->
    ?LET({Choice, Other}, {integer(1, 6), oneof([any_term(), edge()])}, mutate(R, Choice, Other)).

mutate(L, 1, Other) when is_list(L) -> improper(L, Other);
mutate([_ | T], 2, Other) -> [Other | T];
mutate(L, 3, Other) when is_list(L) -> improper(L, [Other]);
mutate(M, C, Other) when is_map(M), map_size(M) > 0, C =< 3 ->
    K = lists:nth(1 + erlang:phash2(Other, map_size(M)), maps:keys(M)),
    case C of
        1 -> maps:remove(K, M);
        2 -> M#{K := Other};
        3 -> M#{K := mutate(maps:get(K, M), 1, Other)}
    end;
mutate(T, C, Other) when is_tuple(T), tuple_size(T) > 0, C =< 3 ->
    setelement(1 + erlang:phash2(Other, tuple_size(T)), T, Other);
mutate(I, C, _) when is_integer(I), C =< 3 ->
    lists:nth(C, [-I - 1, I * (1 bsl 64), float(I)]);
mutate(A, C, _) when is_atom(A), C =< 3 ->
    lists:nth(C, [atom_to_list(A), atom_to_binary(A), {A}]);
mutate(_R, _, Other) -> Other.

%% Right-shaped arguments.
g_node() -> elements(['a@h', 'b@h', 'c@h', 'n1@host', node()]).
g_nodes() -> list(g_node()).
g_op() -> ?LET({N, K}, {integer(0, 5), integer(0, 3)},
               phn_gen:operation(phn_gen:node_names(N), K, phn_gen:node_names(N div 2))).
g_results() -> elements([[], [{c1, {ok, self()}}], [{c2, {error, x}}, {c3, ok}], ok]).
g_strategy() ->
    oneof([phn_partition:divergence(),
           ?LET({Q, C}, {integer(0, 6), boolean()}, phn_partition:static_quorum(Q, C)),
           ?LET({Q, T}, {oneof([integer(0, 100), real()]), oneof([integer(0, 60), real()])},
                phn_partition:dynamic_quorum(Q, T)),
           ?LET({I, T}, {integer(1, 6), boolean()}, phn_partition:majority_quorum(I, T))]).
g_log() -> list({g_node(), integer()}).
g_state() -> oneof([#{}, ?LET(L, g_log(), #{dynamic_quorum_down_nodes => L}),
                    ?LET(M, integer(), #{majority_quorum_max_seen => M, other => key})]).
g_tracker() ->
    frequency([{6, ?LIVE}, {1, ?CLOSED}, {1, ?ORPHAN}, {1, ?FOREIGN}, {1, any_term()}]).
g_ref() -> frequency([{3, ?R1}, {2, ?R2}, {2, near({tx, 1})}, {1, make_ref()},
                      {1, ?LAZY(list_to_tuple(lists:duplicate(300, x)))}]).
g_expected() -> near(list(oneof([g_node(), {g_node(), integer(1, 3)}]))).
g_deadline() -> near(oneof([integer(), elements([0, 1 bsl 62, -(1 bsl 62), (1 bsl 63) - 1])])).
g_meta() -> near(oneof([none, {meta, any_term()}])).
g_pending() -> ?LET(N, integer(0, 20), phn_gen:pending(N, fun(I) -> oneof_nil(I) end)).
g_req() -> oneof([?LET(N, integer(0, 2500), phn_gen:start_request(phn_gen:children(N))),
                  ?LAZY(phn_gen:pids_register(1500)), ?LAZY(phn_gen:pids_unregister(1200))]).

nif_args() ->
    [{record_response, [near(g_op()), near(g_node()), near(g_results()),
                        near(elements([results, status, node]))]},
     {all_responded, [near(g_op())]},
     {process_response, [near(g_op()), near(g_node()), near(g_results())]},
     {split_list, [near(g_req()), near(elements([children, removable_cid_nodes])),
                   near(elements([1000, 1, 0]))]},
     {split_map, [near(g_req()), near(?PIDS_REG), near(children_data), near(1000)]},
     {populate_forward, [near(#{}), near(g_nodes()), near(#{child_id => c, nodes => []})]},
     {cleanup_expired, [near(g_pending()), near(integer())]},
     {partition_eval, [near(elements([init, lock, unlock, check])), near(g_strategy()),
                       near(g_nodes()), near(oneof([g_node(), undefined])), near(integer()),
                       near(g_state())]},
     {partition_sync_log, [near(g_state()), near(g_log())]},
     {tracker_new, [near(integer(1, 100)), near(integer(1, 100))]},
     {tracker_track, [g_tracker(), g_ref(), g_expected(), g_deadline(), g_meta()]},
     {tracker_record, [g_tracker(), g_ref(), near(g_node()), near(any_term()), near(boolean())]},
     {tracker_count, [g_tracker(), g_ref(), near(g_node())]},
     {tracker_get, [g_tracker(), g_ref()]},
     {tracker_peek, [g_tracker(), g_ref()]},
     {tracker_take, [g_tracker(), g_ref()]},
     {tracker_cancel, [g_tracker(), g_ref()]},
     {tracker_update, [g_tracker(), g_ref(), near(oneof([keep, {meta, any_term()}])),
                       near(oneof([keep, integer()]))]},
     {tracker_cleanup, [g_tracker(), near(integer()), near(integer(1, 300)),
                        near(oneof([true, false, ref]))]},
     {tracker_size, [g_tracker()]},
     {tracker_stats, [g_tracker()]},
     {tracker_global_stats, []},
     {tracker_close, [g_tracker()]}].

wrapper_args() ->
    T = phn_tracker,
    P = phn_partition,
    RM = phn_request_manager,
    Opts = near(oneof([#{timeout_ms => integer(0, 100)}, #{deadline_ms => integer()},
                       #{timeout_ms => infinity, meta => any_term()}])),
    [{tr_new, T, new, [near(#{max_ops => integer(1, 10), max_nodes_per_op => integer(1, 10)})]},
     {tr_track, T, track, [g_tracker(), g_ref(), g_expected(), Opts]},
     {tr_record4, T, record, [g_tracker(), g_ref(), near(g_node()), any_term()]},
     {tr_record5, T, record, [g_tracker(), g_ref(), near(g_node()), any_term(),
                              near(#{return_meta => boolean()})]},
     {tr_count, T, count, [g_tracker(), g_ref(), near(g_node())]},
     {tr_get, T, get, [g_tracker(), g_ref()]},
     {tr_peek, T, peek, [g_tracker(), g_ref()]},
     {tr_take, T, take, [g_tracker(), g_ref()]},
     {tr_cancel, T, cancel, [g_tracker(), g_ref()]},
     {tr_update, T, update, [g_tracker(), g_ref(), Opts]},
     {tr_update_meta, T, update_meta, [g_tracker(), g_ref(), any_term()]},
     {tr_cleanup1, T, cleanup_expired, [g_tracker()]},
     {tr_cleanup2, T, cleanup_expired, [g_tracker(), near(integer())]},
     {tr_cleanup3, T, cleanup_expired, [g_tracker(), near(integer()), near(integer(1, 5))]},
     {tr_drop1, T, drop_expired, [g_tracker()]},
     {tr_drop2, T, drop_expired, [g_tracker(), near(integer())]},
     {tr_take_expired, T, take_expired, [g_tracker(), near(integer())]},
     {tr_size, T, size, [g_tracker()]},
     {tr_stats, T, stats, [g_tracker()]},
     {tr_close, T, close, [g_tracker()]},
     {pt_init3, P, init, [near(g_strategy()), near(g_nodes()), near(g_state())]},
     {pt_lock5, P, toggle_lock, [near(g_strategy()), near(g_nodes()), near(g_node()),
                                 near(g_state()), near(integer())]},
     {pt_unlock5, P, toggle_unlock, [near(g_strategy()), near(g_nodes()), near(g_node()),
                                     near(g_state()), near(integer())]},
     {pt_has_quorum, P, has_quorum, [near(g_strategy()), near(g_nodes()), near(g_state())]},
     {pt_nodes_down, P, nodes_down, [near(g_strategy()), near(g_nodes()), near(g_nodes()),
                                     near(g_state())]},
     {pt_nodes_up, P, nodes_up, [near(g_strategy()), near(g_nodes()), near(g_nodes()),
                                 near(g_state())]},
     {pt_sync_log, P, sync_quorum_log, [near(g_state()), near(g_log())]},
     {pt_reset, P, reset_cluster_size, [near(g_state()), near(integer(1, 9))]},
     {rm_record_response, RM, record_response, [near(g_op()), near(g_node()), near(g_results()),
                                                near(results)]},
     {rm_process_response, RM, process_response, [near(g_op()), near(g_node()),
                                                   near(g_results())]},
     {rm_all_responded, RM, 'all_responded?', [near(g_op())]},
     {rm_split, RM, split, [near(g_req())]},
     {rm_populate_forward, RM, populate_forward, [near(#{}), near(g_nodes()),
                                                  near(#{child_id => c, nodes => []})]},
     {rm_cleanup_expired, RM, cleanup_expired, [near(#{pending_operations => g_pending()}),
                                                near(integer())]}].

oneof_nil(I) when I rem 3 =:= 0 -> nil;
oneof_nil(I) -> I * 100.
