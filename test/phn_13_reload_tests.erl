%% The NIF module can be purged and reloaded in a running VM, and upgraded in place
%% (a new instance loaded while the old one is still referenced), answering right after
%% each step.
-module(phn_13_reload_tests).

-include_lib("eunit/include/eunit.hrl").

reload_test_() ->
    {timeout, 60, [
        {"purge and load again", fun purge_and_reload/0},
        {"upgrade while old code is held", fun upgrade_in_place/0},
        {"many reloads", fun many_reloads/0}
    ]}.

works() ->
    Op = phn_gen:operation(['a@h', 'b@h'], 1, []),
    {pending, Op1} = phn_request_manager:process_response(Op, 'a@h', [{c, ok}]),
    ?assertMatch({complete, _}, phn_request_manager:process_response(Op1, 'b@h', [])),
    ?assertEqual(3, length(phn_request_manager:split(phn_gen:start_request(lists:seq(1, 2500))))).

purge_and_reload() ->
    works(),
    code:purge(phn_nif),
    ?assert(code:delete(phn_nif)),
    code:purge(phn_nif),
    ?assertEqual(false, code:is_loaded(phn_nif)),
    ?assertEqual({module, phn_nif}, code:load_file(phn_nif)),
    works().

upgrade_in_place() ->
    works(),
    %% Loading over a loaded module keeps the old instance as "old code": the library's
    %% upgrade callback runs for the new one.
    {module, phn_nif} = code:ensure_loaded(phn_nif),
    ?assertEqual({module, phn_nif}, code:load_file(phn_nif)),
    works(),
    ?assert(code:soft_purge(phn_nif)),
    works().

many_reloads() ->
    lists:foreach(
        fun(_) ->
            code:purge(phn_nif),
            {module, phn_nif} = code:load_file(phn_nif),
            works()
        end,
        lists:seq(1, 20)
    ).
