%% @doc Test double of the `ProcessHub.Future' struct.
-module('Elixir.ProcessHub.Future').

-export(['__struct__'/0, '__struct__'/1]).

'__struct__'() ->
    #{'__struct__' => ?MODULE, future_resolver => nil, ref => nil, timeout => nil,
      action => start}.

'__struct__'(Fields) ->
    phn_test_helpers:struct_with('__struct__'(), Fields).
