%% Writes BENCHMARKS.md from one run: the header (machine, OTP), the issue-6 targets each
%% marked met or missed with the measured figure, every figure, then the hand-written
%% analysis of bench/NOTES.md (why a target is missed and what would close it).
-module(phn_bench_report).

-export([write/4]).

write(File, Header, Results, Secs) ->
    Notes = case file:read_file("bench/NOTES.md") of
        {ok, N} -> N;
        _ -> <<>>
    end,
    Targets = lists:append([Ts || #{targets := Ts} <- Results]),
    Main = [T || T <- Targets, maps:get(group, T, main) =:= main],
    Detail = [T || T <- Targets, maps:get(group, T, main) =:= detail],
    Body = [
        "# Benchmarks\n\n",
        "Written by `make bench` from one run of ", io_lib:format("~b", [round(Secs)]), " s (all "
        "figures come from the same run; within a figure, rounds alternate between the\n"
        "implementations; times are medians with the spread as +- half the min..max range,\n"
        "in % of the median). Ratios are baseline / ours for times (above 1, ours is faster)\n"
        "and ours / baseline for rates. The machine is a shared, noisy 2-core box: compare\n"
        "ratios within a line, not absolute times across runs.\n\n",
        Header, "\n\n",
        "## Targets (issue 11: the user path, cleanup, split, scheduler holds, the C-node)\n\n",
        table(Main),
        "\n## Detail: issue 6's targets for the raw tracker\n\n",
        table(Detail),
        "\n## Figures\n\n```\n", [[L, "\n"] || #{line := L} <- Results], "```\n\n", Notes
    ],
    ok = file:write_file(File, Body),
    io:format("wrote ~s~n", [File]).

table(Targets) ->
    ["| target | goal | measured | |\n|---|---|---|---|\n",
     [io_lib:format("| ~s | ~s | ~s | ~s |\n", [esc(W), esc(G), esc(M), met(Met)])
      || #{what := W, goal := G, measured := M, met := Met} <- Targets]].

met(true) -> "met";
met(false) -> "**missed**";
met(inconclusive) -> "inconclusive".

esc(S) -> string:replace(S, "|", "\\|", all).
