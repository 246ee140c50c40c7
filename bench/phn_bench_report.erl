%% Writes BENCHMARKS.md from one run: the header, every figure, then the hand-written
%% notes of bench/NOTES.md (targets, misses and their reasons).
-module(phn_bench_report).

-export([write/3]).

write(File, Header, Lines) ->
    Notes = case file:read_file("bench/NOTES.md") of
        {ok, N} -> N;
        _ -> <<>>
    end,
    Body = [
        "# Benchmarks\n\n",
        "Written by `make bench` from one run (all figures of a table come from the same\n",
        "run, rounds alternating between implementations; medians, with the spread as\n",
        "+- half the min..max range). Ratios are baseline / ours: above 1, ours is faster.\n\n",
        Header, "\n\n```\n", [[L, "\n"] || L <- Lines], "```\n\n", Notes
    ],
    ok = file:write_file(File, Body),
    io:format("wrote ~s~n", [File]).
