%% @doc Test double of `ProcessHub.Constant.StorageKey' (the keys RequestManager reads).
-module('Elixir.ProcessHub.Constant.StorageKey').

-export([strsyn/0, strdist/0, strred/0, strmigr/0]).

strsyn() -> synchronization_strategy.
strdist() -> distribution_strategy.
strred() -> redundancy_strategy.
strmigr() -> migration_strategy.
