%% Random terms for the bad-input tests: anything at all (random_term/1) and terms of
%% nearly the right shape (near_miss/1): right maps with a wrong value inside, improper
%% lists, deep nesting, huge binaries, atoms at the length limit.
-module(phn_terms).

-export([random_term/1, near_miss/1]).


random_term(0) ->
    scalar();
random_term(Depth) ->
    case rand:uniform(10) of
        1 -> [random_term(Depth - 1) || _ <- lists:seq(1, rand:uniform(4) - 1)];
        2 -> improper(random_term(Depth - 1));
        3 -> list_to_tuple([random_term(Depth - 1) || _ <- lists:seq(1, rand:uniform(4) - 1)]);
        4 -> maps:from_list([{scalar(), random_term(Depth - 1)} || _ <- lists:seq(1, rand:uniform(4) - 1)]);
        5 -> {random_term(Depth - 1), random_term(Depth - 1)};
        _ -> scalar()
    end.

scalar() ->
    case rand:uniform(16) of
        1 -> nil;
        2 -> rand:uniform(1 bsl 70) - (1 bsl 69);
        3 -> rand:uniform() * 1.0e10;
        4 -> huge_binary();
        5 -> long_atom();
        6 -> make_ref();
        7 -> self();
        8 -> deep();
        9 -> [];
        10 -> #{};
        11 -> lists:nth(rand:uniform(6), [results, node, children, map, expires_at, '__struct__']);
        12 -> 'n1@host';
        13 -> fun() -> ok end;
        14 -> <<"bin">>;
        15 -> rand:uniform(2000);
        16 -> -1
    end.

improper(T) -> [T | T].

huge_binary() ->
    case persistent_term:get({?MODULE, bin}, undefined) of
        undefined ->
            B = binary:copy(<<0>>, 8 * 1024 * 1024),
            persistent_term:put({?MODULE, bin}, B),
            B;
        B ->
            B
    end.

long_atom() -> list_to_atom(lists:duplicate(255, $a)).

deep() ->
    case persistent_term:get({?MODULE, deep}, undefined) of
        undefined ->
            D = lists:foldl(fun(_, Acc) -> [Acc] end, [], lists:seq(1, 100000)),
            persistent_term:put({?MODULE, deep}, D),
            D;
        D ->
            D
    end.

%% Argument position I of the RequestManager functions, nearly right.
near_miss(0) ->
    Bases = bases(),
    mutate(element(rand:uniform(tuple_size(Bases)), Bases));
near_miss(1) ->
    lists:nth(rand:uniform(5), ['a@h', [a, b], [a | b], [a, 1], children]);
near_miss(2) ->
    lists:nth(rand:uniform(4), [[{c1, {ok, self()}}], random_term(2), [a, b], 10]);
near_miss(3) ->
    lists:nth(rand:uniform(3), [results, 1000, random_term(1)]).

%% Right-shaped first arguments, built once: big ones are costly to make per call.
bases() ->
    case persistent_term:get({?MODULE, bases}, undefined) of
        undefined ->
            B = {
                phn_gen:operation(['a@h', 'b@h'], 2, ['a@h']),
                phn_gen:operation(phn_gen:node_names(50), 1, phn_gen:node_names(49)),
                phn_gen:start_request(phn_gen:children(2500)),
                phn_gen:start_request(phn_gen:children(10)),
                phn_gen:pids_register(12000),
                phn_gen:pids_unregister(10001),
                [{a, [1]}, {b, [2]}],
                #{pending_operations => #{make_ref() => #{expires_at => 0}, make_ref() => #{expires_at => nil}}}
            },
            persistent_term:put({?MODULE, bases}, B),
            B;
        B ->
            B
    end.

%% Replace, drop or corrupt one part of a right-shaped term.
mutate(Map) when is_map(Map), map_size(Map) > 0 ->
    Keys = maps:keys(Map),
    Key = lists:nth(rand:uniform(length(Keys)), Keys),
    case rand:uniform(5) of
        1 -> maps:remove(Key, Map);
        2 -> Map#{Key := random_term(2)};
        3 -> Map#{Key := corrupt(maps:get(Key, Map))};
        4 -> Map;
        5 -> Map#{Key := improper(maps:get(Key, Map))}
    end;
mutate([H | T]) ->
    case rand:uniform(3) of
        1 -> [random_term(2) | T];
        2 -> [H | random_term(1)];
        3 -> improper(H)
    end;
mutate(Other) ->
    Other.

%% Inside a value: a list with one element corrupted, a map mutated, a MapSet broken.
corrupt([_ | _] = L) -> mutate(L);
corrupt(#{'__struct__' := 'Elixir.MapSet'} = S) -> S#{map := random_term(1)};
corrupt(M) when is_map(M) -> mutate(M);
corrupt(_) -> random_term(2).
