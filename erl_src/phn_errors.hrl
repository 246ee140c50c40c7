%% The project's argument check (docs/errors.md, phn_errors): when an argument of the
%% calling public function is not of its kind, raise badarg with error_info naming it.
%% A macro, not a function: erlang:error/3 records the frame it is called from, which must
%% be the public function's, with its arguments. Args must be variables (they are read
%% twice on the error path).
-define(CHECK_ARGS(Specs, Args),
        ok = case phn_errors:check(Specs, Args) of
                 ok -> ok;
                 _ -> erlang:error(badarg, Args, phn_errors:info(phn_errors:check(Specs, Args)))
             end).
