%% @doc Test double of the `ProcessHub.Strategy.Distribution.Base' protocol.
-module('Elixir.ProcessHub.Strategy.Distribution.Base').

-export([distribution_signature/2]).

%% A non-nil term derived from the strategy (and the hub id).
distribution_signature(Strategy, Hub) ->
    {signature, erlang:phash2({Strategy, maps:get(hub_id, Hub)})}.
