%% Bad input: at least 100 000 random and near-miss terms through every NIF-backed
%% function. Each call either returns or raises an error of the documented class
%% (badarg from a NIF, function_clause from a wrapper's head); the VM stays up and the
%% NIFs still answer correctly afterwards.
-module(phn_11_bad_input_tests).

-include_lib("eunit/include/eunit.hrl").

-define(RUNS, 100000).

bad_input_test_() ->
    {timeout, 600, [
        {atom_to_list(Name), {timeout, 300, fun() -> feed(Name, Fun) end}}
     || {Name, Fun} <- targets()
    ]}.

targets() ->
    M = phn_request_manager,
    [
        {record_response, fun(T) -> M:record_response(pick(T, 0), pick(T, 1), pick(T, 2), pick(T, 3)) end},
        {all_responded, fun(T) -> M:'all_responded?'(pick(T, 0)) end},
        {process_response, fun(T) -> M:process_response(pick(T, 0), pick(T, 1), pick(T, 2)) end},
        {split, fun(T) -> M:split(pick(T, 0)) end},
        {populate_forward, fun(T) -> M:populate_forward(pick(T, 0), pick(T, 1), pick(T, 2)) end},
        {cleanup_expired, fun(T) -> M:cleanup_expired(pick(T, 0)) end},
        {cleanup_expired_now, fun(T) -> M:cleanup_expired(pick(T, 0), pick(T, 1)) end},
        %% The raw NIFs too, with nothing in front of them.
        {nif_split_list, fun(T) -> phn_nif:split_list(pick(T, 0), pick(T, 1), pick(T, 2)) end},
        {nif_split_map, fun(T) -> phn_nif:split_map(pick(T, 0), pick(T, 1), pick(T, 2), pick(T, 3)) end},
        {nif_process_response, fun(T) -> phn_nif:process_response(pick(T, 0), pick(T, 1), pick(T, 2)) end},
        {nif_cleanup_expired, fun(T) -> phn_nif:cleanup_expired(pick(T, 0), pick(T, 1)) end}
    ].

%% Argument I of a call: mostly a near-miss of the right shape, sometimes anything.
pick(Seed, I) ->
    rand:seed(exsss, {Seed, I, 17}),
    case rand:uniform(3) of
        1 -> phn_terms:random_term(4);
        _ -> phn_terms:near_miss(I)
    end.

feed(Name, Fun) ->
    Counts = lists:foldl(
        fun(Seed, Acc) ->
            Outcome =
                try Fun(Seed) of
                    _ -> returned
                catch
                    error:badarg -> badarg;
                    error:function_clause -> function_clause;
                    Class:Reason -> {unexpected, Class, Reason, Seed}
                end,
            case Outcome of
                {unexpected, _, _, _} -> ?assertEqual({Name, expected_error_class}, {Name, Outcome});
                _ -> ok
            end,
            maps:update_with(Outcome, fun(C) -> C + 1 end, 1, Acc)
        end,
        #{},
        lists:seq(1, ?RUNS)
    ),
    ?debugFmt("~p: ~p", [Name, Counts]),
    ?assertEqual(?RUNS, lists:sum(maps:values(Counts))),
    %% Still alive and still right.
    Op = phn_gen:operation(['a@h'], 1, []),
    ?assertMatch({complete, _}, phn_request_manager:process_response(Op, 'a@h', [])).
