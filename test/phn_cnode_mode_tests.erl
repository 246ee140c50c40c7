%% @doc phn_request_manager's process-wide default mode and C-node mode's report handling
%% (handle_response(State, Ref, '$phn_cnode', Body), phn_rm_cnode), without a C-node:
%% the reports are built here as phn_cnode delivers them. test/phn_cnode_mode_SUITE.erl
%% runs the same with the real C-node and three nodes.
-module(phn_cnode_mode_tests).

-include_lib("eunit/include/eunit.hrl").

-define(M, phn_request_manager).
-define(KEY, {phn_request_manager, default_mode}).
-define(HANDLER, 'Elixir.PhnTest.CountedStartRequest').
-define(N1, 'n1@host').
-define(N2, 'n2@host').

%%====================================================================
%% Harness
%%====================================================================

%% Fun() with the finalize log (phn_ph_log, filled by ?HANDLER's post_process) and the
%% default mode restored afterwards.
with_log(Fun) ->
    fun() ->
            Tab = ets:new(phn_ph_log, [named_table, public, bag]),
            try Fun()
            after
                ets:delete(Tab),
                persistent_term:erase(?KEY)
            end
    end.

finalized(Ref) -> [R || {{finalized, F, _}, R} <- ets:tab2list(phn_ph_log), F =:= Ref].

kids(Node, N) -> [#{child_id => {Node, I}} || I <- lists:seq(1, N)].

results(Node, N) -> [{{Node, I}, {ok, self()}} || I <- lists:seq(1, N)].

%% A composed operation over n1 (3 children) and n2 (2), stored in a map state.
%% An operation as C-node mode stores it: composed, its sub-requests routed to a C-node.
stored(Opts) ->
    {ok, Op} = phn_rm_common:compose_sub_requests(unrouted(Opts)),
    Routed = Op#{sub_requests := [S#{originating_node => 'phn_cnode_t@127.0.0.1'}
                                  || S <- maps:get(sub_requests, Op)]},
    {Routed, ?M:store(#{hub_id => test_hub, pending_operations => #{}}, Routed)}.

unrouted(Opts) ->
    ?M:new(#{hub_id => test_hub}, ?HANDLER, [{?N1, kids(?N1, 3)}, {?N2, kids(?N2, 2)}], Opts).

started(#{started := Started}) -> lists:sort([Cid || {Cid, [{_Node, _Pid}]} <- Started]).

flush() -> receive M -> [M | flush()] after 0 -> [] end.

%%====================================================================
%% Default mode
%%====================================================================

default_mode_test() ->
    persistent_term:erase(?KEY),
    try
        ?assertEqual(map, ?M:default_mode()),
        [begin
             ?assertEqual(ok, ?M:set_default_mode(Mode)),
             ?assertEqual(Mode, ?M:default_mode()),
             ?assertEqual(Mode, persistent_term:get(?KEY))
         end || Mode <- [tracker, cnode, map, cnode]],
        %% docs/errors.md: badarg, the mode unchanged.
        ?assertError(badarg, ?M:set_default_mode(bogus)),
        ?assertError(badarg, ?M:set_default_mode("cnode")),
        ?assertEqual(cnode, ?M:default_mode())
    after
        persistent_term:erase(?KEY)
    end.

%% Default map: compose_sub_requests/1 is ProcessHub's.
map_mode_compose_is_processhubs_test() ->
    persistent_term:erase(?KEY),
    Op = ?M:new(#{hub_id => test_hub}, ?HANDLER, [{?N1, kids(?N1, 3)}], []),
    ?assertEqual(phn_rm_common:compose_sub_requests(Op), ?M:compose_sub_requests(Op)).

%% C-node mode with no phn_cnode running: composed as map mode (responses to this node),
%% nothing registered, and the fallback is logged once per process.
cnode_mode_without_cnode_composes_as_map_mode_test() ->
    persistent_term:erase(?KEY),
    undefined = whereis(phn_cnode),
    try
        ok = ?M:set_default_mode(cnode),
        Op = ?M:new(#{hub_id => test_hub}, ?HANDLER, [{?N1, kids(?N1, 3)}, {?N2, []}], []),
        {ok, Composed} = ?M:compose_sub_requests(Op),
        ?assertEqual(phn_rm_common:compose_sub_requests(Op), {ok, Composed}),
        ?assertEqual([node(), node()],
                     [maps:get(originating_node, S) || S <- maps:get(sub_requests, Composed)]),
        ?assertEqual(true, get({phn_rm_cnode, fallback_logged})),
        ?assertEqual({error, no_children},
                     ?M:compose_sub_requests(Op#{nodes_data := []}))
    after
        erase({phn_rm_cnode, fallback_logged}),
        persistent_term:erase(?KEY)
    end.

%%====================================================================
%% phn_cnode's reports
%%====================================================================

%% complete: every node's results merged (n1's two chunks concatenated), finalized once,
%% the awaiter answered with that result, the operation removed; a second report of the
%% same operation finds nothing.
complete_report_test_() ->
    with_log(fun() ->
        flush(),
        {Op, S0} = stored([]),
        Ref = maps:get(transaction_id, Op),
        Tag = make_ref(),
        S = ?M:update(S0, ?M:set_awaiter(Op, {self(), Tag})),
        [R1a, R1b] = [lists:sublist(results(?N1, 3), 2), lists:nthtail(2, results(?N1, 3))],
        Body = {complete, [{?N1, R1a ++ R1b}, {?N2, results(?N2, 2)}]},
        {noreply, S1} = ?M:handle_response(S, Ref, '$phn_cnode', Body),
        ?assertEqual(nil, ?M:get(S1, Ref)),
        [Result] = finalized(Ref),
        ?assertEqual(lists:sort([C || {C, _} <- results(?N1, 3) ++ results(?N2, 2)]),
                     started(Result)),
        ?assertMatch(#{status := ok, errors := []}, Result),
        ?assertEqual([{Tag, Result}], flush()),
        ?assertEqual({noreply, S1}, ?M:handle_response(S1, Ref, '$phn_cnode', Body)),
        ?assertEqual([Result], finalized(Ref))
    end).

%% The merged operation is exactly phn_rm_tracker:view/1's, i.e. map mode's placement.
complete_report_merges_as_view_test_() ->
    with_log(fun() ->
        {Op, S} = stored([]),
        Ref = maps:get(transaction_id, Op),
        NodeResults = [{?N1, results(?N1, 3)}, {?N2, results(?N2, 2)}],
        {noreply, _} = ?M:handle_response(S, Ref, '$phn_cnode', {complete, NodeResults}),
        Logged = finalized(Ref),
        View = phn_rm_tracker:view(#{meta => Op, collected => NodeResults, missing => []}),
        ?assertEqual([phn_rm_common:finalize(View, S)], Logged)
    end).

%% expired: what arrived is merged into the stored operation, no finalize; an await then
%% answers as map mode would with those responses.
expired_report_test_() ->
    with_log(fun() ->
        {Op, S} = stored([{timeout, 0}]),
        Ref = maps:get(transaction_id, Op),
        Body = {expired, [{?N1, results(?N1, 3)}], [?N2]},
        {noreply, S1} = ?M:handle_response(S, Ref, '$phn_cnode', Body),
        ?assertEqual([], finalized(Ref)),
        Merged = ?M:get(S1, Ref),
        ?assertEqual([?N1], phn_rm_common:mapset_to_list(maps:get(completed_nodes, Merged))),
        ?assertEqual([results(?N1, 3), nil],
                     [maps:get(results, Sub) || Sub <- maps:get(sub_requests, Merged)]),
        {reply, Partial, S2} = ?M:handle_await(S1, Ref, {self(), make_ref()}),
        ?assertEqual(nil, ?M:get(S2, Ref)),
        ?assertEqual(lists:sort([C || {C, _} <- results(?N1, 3)]), started(Partial)),
        ?assertEqual(lists:sort([{C, {error, no_response}} || #{child_id := C} <- kids(?N2, 2)]),
                     lists:sort(maps:get(errors, Partial))),
        ?assertEqual([Partial], finalized(Ref))
    end).

%% An error report, an unknown operation, a body of any other shape: the state as it was,
%% no finalize, no crash.
ignored_reports_test_() ->
    with_log(fun() ->
        {Op, S} = stored([]),
        Ref = maps:get(transaction_id, Op),
        Good = [{?N1, results(?N1, 3)}, {?N2, results(?N2, 2)}],
        Bodies = [{error, cnode_down}, {error, enomem}, {error, undecodable}, foo, {}, [],
                  {complete}, {complete, notalist}, {complete, [bad]},
                  {complete, [{?N1, notalist}]}, {complete, [{"n1", []}]},
                  {complete, [{?N1, []} | improper]},
                  {expired, Good}, {expired, x, []}, {expired, Good, notalist},
                  {expired, Good, [<<"n2">>]}, {complete, Good, extra}],
        [?assertEqual({noreply, S}, ?M:handle_response(S, Ref, '$phn_cnode', B))
         || B <- Bodies],
        ?assertEqual({noreply, S},
                     ?M:handle_response(S, make_ref(), '$phn_cnode', {complete, Good})),
        ?assertEqual({noreply, S},
                     ?M:handle_response(S, make_ref(), '$phn_cnode', {expired, Good, []})),
        ?assertEqual([], finalized(Ref))
    end).

%% A '$phn_cnode' report for an operation that was not routed to the C-node is any node's
%% response, as ProcessHub would take it: a cluster member sending one finishes nothing.
%% In map mode exactly the original's outcome (the plain-Erlang oracle's), in tracker mode
%% a response from a node outside the operation (ignored).
forged_report_is_a_plain_response_test_() ->
    with_log(fun() ->
        {ok, Op} = phn_rm_common:compose_sub_requests(unrouted([])),
        Ref = maps:get(transaction_id, Op),
        Body = {complete, [{?N1, results(?N1, 3)}, {?N2, results(?N2, 2)}]},
        S = ?M:store(#{hub_id => test_hub, pending_operations => #{}}, Op),
        ?assertEqual(phn_request_manager_erl:handle_response(S, Ref, '$phn_cnode', Body),
                     ?M:handle_response(S, Ref, '$phn_cnode', Body)),
        T = phn_tracker:new(),
        TS = ?M:store(#{hub_id => test_hub, pending_operations => T}, Op),
        {noreply, TS1} = ?M:handle_response(TS, Ref, '$phn_cnode', Body),
        ?assertEqual(Op, ?M:get(TS1, Ref)),
        ?assertEqual([], finalized(Ref)),
        phn_tracker:close(T)
    end).

%% A tracker state (pending_operations turned into a phn_tracker, then C-node mode): the
%% report is handled the same way through the state functions: complete finalizes once
%% and removes, expired merges (an await then answers with what arrived), garbage is
%% ignored.
tracker_state_complete_report_test_() ->
    with_log(fun() ->
        {Op, _} = stored([]),
        Ref = maps:get(transaction_id, Op),
        T = phn_tracker:new(),
        S = ?M:store(#{hub_id => test_hub, pending_operations => T}, Op),
        ?assertEqual({noreply, S}, ?M:handle_response(S, Ref, '$phn_cnode', {complete, [x]})),
        Body = {complete, [{?N1, results(?N1, 3)}, {?N2, results(?N2, 2)}]},
        {noreply, S1} = ?M:handle_response(S, Ref, '$phn_cnode', Body),
        ?assertEqual(nil, ?M:get(S1, Ref)),
        [Result] = finalized(Ref),
        ?assertEqual(lists:sort([C || {C, _} <- results(?N1, 3) ++ results(?N2, 2)]),
                     started(Result)),
        phn_tracker:close(T)
    end).

tracker_state_expired_report_test_() ->
    with_log(fun() ->
        {Op, _} = stored([{timeout, 0}]),
        Ref = maps:get(transaction_id, Op),
        T = phn_tracker:new(),
        S = ?M:store(#{hub_id => test_hub, pending_operations => T}, Op),
        Body = {expired, [{?N1, results(?N1, 3)}], [?N2]},
        {noreply, S1} = ?M:handle_response(S, Ref, '$phn_cnode', Body),
        ?assertEqual([], finalized(Ref)),
        {reply, Partial, S2} = ?M:handle_await(S1, Ref, {self(), make_ref()}),
        ?assertEqual(nil, ?M:get(S2, Ref)),
        ?assertEqual(lists:sort([C || {C, _} <- results(?N1, 3)]), started(Partial)),
        ?assertEqual([Partial], finalized(Ref)),
        phn_tracker:close(T)
    end).

%% phn_cnode's delivery option: message (default) or cast; anything else raises badarg
%% (docs/errors.md) before any call.
register_deliver_option_test() ->
    undefined = whereis(phn_cnode),
    [?assertError(badarg,
                  phn_cnode:register_operation(make_ref(), test_hub, [?N1], 100, self(), Opts))
     || Opts <- [#{deliver => bogus}, #{deliver => "cast"}, not_a_map]],
    ?assertExit({noproc, _},
                phn_cnode:register_operation(make_ref(), test_hub, [?N1], 100, self(),
                                             #{deliver => cast})).
