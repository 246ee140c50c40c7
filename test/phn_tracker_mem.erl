%% @doc Tracker memory checks shared by the EUnit suites: the VM-wide stats of
%% phn_tracker:stats/0 once nothing is left to free, and waiting for them to come back to
%% a baseline. Trackers that earlier tests left to the garbage collector would otherwise
%% be destroyed in the middle of a test and blur its baseline.
-module(phn_tracker_mem).

-include_lib("eunit/include/eunit.hrl").

-export([quiet_stats/0, await_baseline/1]).

-define(KEYS, [ops, bytes, kept_terms, trackers, reaping_ops]).
-define(TRIES, 200).

%% @doc stats/0 once every process has been garbage collected (so that unreferenced
%% trackers are destroyed) and the reaper thread is idle (or after about 10 s).
quiet_stats() ->
    quiet_stats(?TRIES).

quiet_stats(Tries) ->
    _ = [erlang:garbage_collect(P) || P <- processes()],
    S = phn_tracker:stats(),
    case maps:get(reaping_ops, S) of
        0 -> S;
        _ when Tries =< 1 -> S;
        _ -> timer:sleep(50), quiet_stats(Tries - 1)
    end.

%% @doc Wait (about 10 s at most) until the VM-wide counters equal Base's, and assert it.
await_baseline(Base) ->
    await_baseline(Base, ?TRIES).

await_baseline(Base, 0) ->
    ?assertEqual(maps:with(?KEYS, Base), maps:with(?KEYS, phn_tracker:stats()));
await_baseline(Base, N) ->
    case maps:with(?KEYS, quiet_stats(1)) =:= maps:with(?KEYS, Base) of
        true -> ok;
        false -> timer:sleep(50), await_baseline(Base, N - 1)
    end.
