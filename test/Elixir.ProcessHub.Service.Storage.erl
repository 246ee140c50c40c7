%% @doc Test double of `ProcessHub.Service.Storage': get/2 on an ETS table.
-module('Elixir.ProcessHub.Service.Storage').

-export([get/2, insert/3]).

get(Table, Key) ->
    case ets:lookup(Table, Key) of
        [{Key, Value}] -> Value;
        _ -> nil
    end.

insert(Table, Key, Value) ->
    true = ets:insert(Table, {Key, Value}),
    true.
