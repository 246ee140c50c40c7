%% @doc A coordinator as ProcessHub's would be in tracker mode, for the multi-node suites
%% and the soak run: it owns a phn_tracker, tracks operations for the processes that ask,
%% records the responses cast to it ({operation_response, Ref, Node, Results}, as
%% ProcessHub nodes send them) and sweeps expired operations every SweepMs. Each
%% operation's asker gets exactly one {op_done, Ref, {complete, Collected} |
%% {expired, Missing}}.
%%
%% Messages: {track, From, Ref, Expected, TimeoutMs} (answered {tracked, Ref, Result}),
%% {cancel, Ref}, {info, From} (answered {info, Size, Stats}), {stop, From}.
-module(phn_test_coordinator).

-export([start/2, stop/1]).

%% @doc A coordinator registered as Name: {Pid, Tracker}.
start(Name, SweepMs) ->
    Self = self(),
    Pid = spawn(fun() ->
                        register(Name, self()),
                        T = phn_tracker:new(),
                        Self ! {coordinator, self(), T},
                        erlang:send_after(SweepMs, self(), sweep),
                        loop(T, SweepMs)
                end),
    receive {coordinator, Pid, T} -> {Pid, T} after 5000 -> error(no_coordinator) end.

%% @doc Close its tracker and wait for it to exit.
stop(Pid) ->
    Mon = erlang:monitor(process, Pid),
    Pid ! {stop, self()},
    receive {'DOWN', Mon, process, Pid, _} -> ok after 5000 -> error(coordinator_hangs) end.

loop(T, SweepMs) ->
    receive
        {track, From, Ref, Expected, TimeoutMs} ->
            From ! {tracked, Ref,
                    phn_tracker:track(T, Ref, Expected, #{timeout_ms => TimeoutMs, meta => From})};
        {cancel, Ref} ->
            _ = phn_tracker:cancel(T, Ref);
        {'$gen_cast', {operation_response, Ref, Node, Results}} ->
            case phn_tracker:record(T, Ref, Node, Results, #{return_meta => true}) of
                {complete, Collected, From} -> From ! {op_done, Ref, {complete, Collected}};
                _ -> ok
            end;
        sweep ->
            [From ! {op_done, Ref, {expired, Missing}}
             || #{ref := Ref, meta := From, missing := Missing} <- phn_tracker:cleanup_expired(T)],
            erlang:send_after(SweepMs, self(), sweep);
        {info, From} ->
            From ! {info, phn_tracker:size(T), phn_tracker:stats(T)};
        {stop, From} ->
            phn_tracker:close(T),
            From ! stopped,
            exit(normal)
    end,
    loop(T, SweepMs).
