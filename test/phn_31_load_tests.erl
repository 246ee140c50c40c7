%% Load: 1 000 000 operations tracked over 100 nodes, recorded to completion and cleaned up.
%%
%% Every operation expects 3 of the 100 nodes (a tenth of them owe 2 chunks on their first
%% node); all 1 000 000 are tracked first, so the table peaks at 1 000 000 operations. Then
%% the nodes answer window by window (10 000 operations at a time, node after node inside a
%% window, as responses interleave in a real cluster), except for the last 10 000
%% operations, which get no answer from their third node and are removed by
%% cleanup_expired/2 once their deadline has passed. Checked:
%%   - every answered operation completes exactly once, with its 3 nodes' results, and
%%     nothing is ignored;
%%   - at the peak, the tracker's native bytes stay within the documented ~600 bytes per
%%     operation (docs/tracker.md, "Costs and limits": allowed up to 800 here, table included), and
%%     no operation keeps a term before any result is recorded;
%%   - the expired ones come back from cleanup_expired/2, all of them, with the node that
%%     did not answer as missing;
%%   - afterwards the tracker is empty, and once closed the VM-wide stats are back to the
%%     baseline.
%% Under two minutes.
-module(phn_31_load_tests).

-include_lib("eunit/include/eunit.hrl").

-define(OPS, 1000000).
-define(NODES, 100).
-define(WINDOW, 10000).
-define(UNANSWERED, 10000).
-define(BYTES_PER_OP_BOUND, 800).

load_test_() ->
    {timeout, 300, fun million/0}.

million() ->
    Base = phn_tracker_mem:quiet_stats(),
    Nodes = list_to_tuple([list_to_atom("load" ++ integer_to_list(I) ++ "@host")
                           || I <- lists:seq(0, ?NODES - 1)]),
    T = phn_tracker:new(#{max_ops => 2 * ?OPS}),
    Deadline = erlang:monotonic_time(millisecond) + 3600000,
    {TrackUs, ok} = timer:tc(fun() -> track_all(T, Nodes, Deadline, 1) end),
    Peak = phn_tracker:stats(T),
    ?assertEqual(?OPS, maps:get(ops, Peak)),
    ?assertEqual(0, maps:get(kept_terms, Peak)),
    BytesPerOp = maps:get(bytes, Peak) / ?OPS,
    ?debugFmt("tracked ~p ops in ~p ms; ~.1f native bytes per op at the peak",
              [?OPS, TrackUs div 1000, BytesPerOp]),
    ?assert(BytesPerOp =< ?BYTES_PER_OP_BOUND),

    Answered = ?OPS - ?UNANSWERED,
    {RecordUs, {Completed, Records}} =
        timer:tc(fun() -> answer_windows(T, Nodes, 1, Answered, 0, 0) end),
    ?debugFmt("~p responses recorded in ~p ms (~p per second), ~p completions",
              [Records, RecordUs div 1000, Records * 1000000 div max(1, RecordUs), Completed]),
    ?assertEqual(Answered, Completed),
    %% The unanswered ones: their first two nodes answer, the third never does.
    [begin
         {pending, _} = phn_tracker:record(T, I, node_of(Nodes, I, 0), [{I, 0}]),
         [{pending, _} = phn_tracker:record(T, I, node_of(Nodes, I, 0), [{I, 0}])
          || chunks(I) =:= 2],
         {pending, 1} = phn_tracker:record(T, I, node_of(Nodes, I, 1), [{I, 1}])
     end || I <- lists:seq(Answered + 1, ?OPS)],
    Mid = phn_tracker:stats(T),
    ?assertEqual(?UNANSWERED, maps:get(ops, Mid)),
    ?assertEqual(0, lists:sum(maps:values(maps:get(ignored, Mid)))),

    {CleanUs, Expired} = timer:tc(fun() -> phn_tracker:cleanup_expired(T, Deadline + 1) end),
    ?debugFmt("cleanup_expired returned ~p operations in ~p ms", [length(Expired), CleanUs div 1000]),
    ?assertEqual(?UNANSWERED, length(Expired)),
    ?assert(lists:all(fun(#{ref := I, missing := [M], collected := [_, _]}) ->
                              M =:= node_of(Nodes, I, 2)
                      end, Expired)),
    After = phn_tracker:stats(T),
    ?assertMatch(#{ops := 0, kept_terms := 0}, After),
    ?assertEqual(0, phn_tracker:size(T)),
    ok = phn_tracker:close(T),
    phn_tracker_mem:await_baseline(Base).

%% Operation I expects nodes I, I+1, I+2 (mod 100); one in ten owes 2 chunks on its first.
node_of(Nodes, I, K) -> element(1 + (I + K) rem ?NODES, Nodes).

chunks(I) when I rem 10 =:= 0 -> 2;
chunks(_) -> 1.

track_all(_T, _Nodes, _Deadline, I) when I > ?OPS -> ok;
track_all(T, Nodes, Deadline, I) ->
    Expected = [{node_of(Nodes, I, 0), chunks(I)}, node_of(Nodes, I, 1), node_of(Nodes, I, 2)],
    ok = phn_tracker:track(T, I, Expected, #{deadline_ms => Deadline}),
    track_all(T, Nodes, Deadline, I + 1).

%% Windows of ?WINDOW operations: node 0 of each answers (all its chunks), then node 1,
%% then node 2, whose answer completes the operation.
answer_windows(_T, _Nodes, From, Last, Done, Records) when From > Last -> {Done, Records};
answer_windows(T, Nodes, From, Last, Done, Records) ->
    To = min(Last, From + ?WINDOW - 1),
    Ops = lists:seq(From, To),
    R0 = lists:foldl(fun(I, N) -> first_node(T, Nodes, I), N + chunks(I) end, 0, Ops),
    [{pending, 1} = phn_tracker:record(T, I, node_of(Nodes, I, 1), [{I, 1}]) || I <- Ops],
    Completed = lists:foldl(
                  fun(I, N) ->
                          {complete, [{A, RA}, {B, [{I, 1}]}, {C, [{I, 2}]}]} =
                              phn_tracker:record(T, I, node_of(Nodes, I, 2), [{I, 2}]),
                          A = node_of(Nodes, I, 0),
                          B = node_of(Nodes, I, 1),
                          C = node_of(Nodes, I, 2),
                          RA = lists:duplicate(chunks(I), {I, 0}),
                          N + 1
                  end, 0, Ops),
    answer_windows(T, Nodes, To + 1, Last, Done + Completed, Records + R0 + 2 * length(Ops)).

first_node(T, Nodes, I) ->
    N0 = node_of(Nodes, I, 0),
    case chunks(I) of
        1 -> {pending, 2} = phn_tracker:record(T, I, N0, [{I, 0}]);
        2 ->
            {pending, 3} = phn_tracker:record(T, I, N0, [{I, 0}]),
            {pending, 2} = phn_tracker:record(T, I, N0, [{I, 0}])
    end.
