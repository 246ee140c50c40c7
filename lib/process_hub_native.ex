defmodule ProcessHubNative do
  @moduledoc """
  Makes an unmodified ProcessHub application run its request tracking on the native code
  of this library.

  ProcessHub's coordinator calls `ProcessHub.Service.RequestManager` by name. `install/1`
  replaces that loaded module, on this node, by a generated module with the same
  functions and the same struct, each function delegating to `:phn_request_manager`, the
  native drop-in (same arguments, results and data shapes). `uninstall/0` loads
  ProcessHub's own object code back, byte for byte.

      # in your Application.start/2, before the hubs start
      :ok = ProcessHubNative.install(mode: :map)

  The swap is per node: call `install/1` on every node that runs ProcessHub (each
  node's coordinator tracks its own operations, and each node's workers split and
  answer requests through the same module).

  With the `:telemetry` application loaded at install, operation completion and expiry
  are also emitted as events (`ProcessHubNative.Events`, while pending operations are a
  map: map and C-node modes).

  ## Modes

    * `:map` — ProcessHub's own behaviour exactly (its quirks included): the pending
      operations stay a map in the coordinator's state; response recording, the
      completion check, splitting, forwarding and expiry run in C.
    * `:tracker` — the drop-in takes over ProcessHub's `%{}` `pending_operations` on
      its first `store` and keeps operations in the native `phn_tracker` table: every
      split chunk is waited for and reported, responses from nodes outside an operation
      are ignored, expiry is O(k log n) (docs/tracker.md). Needs
      `:phn_request_manager.set_default_mode/1`, which `install/1` calls with `:tracker`
      (and `uninstall/0` with `:map`); on a build without it, `install/1` returns
      `{:error, {:mode_unavailable, :tracker}}`.
    * `:cnode` — the coordinator's `compose_sub_requests/1` routes the nodes' responses
      to this node's C-node (`phn_cnode`, which must be running: see
      `ProcessHubNative.Application`), which collects every chunk and hands the
      coordinator one `operation_response` per operation, finalized once by
      `handle_response/4` (docs/cnode.md). Needs
      `:phn_request_manager.set_default_mode(:cnode)`; `install/1` calls it (and
      `uninstall/0` sets `:map` back).

  The mode is the `:mode` option, else `config :process_hub_native, mode: ...`, else
  `:map`; it is read at install.
  """

  @target ProcessHub.Service.RequestManager
  @drop_in :phn_request_manager
  @lock {__MODULE__, :install}
  @key {__MODULE__, :original}

  # Functions every compiled Elixir module has, or that the generated module defines itself.
  @own [module_info: 0, module_info: 1, __info__: 1, __struct__: 0, __struct__: 1]

  @typedoc "How the drop-in keeps pending operations."
  @type mode :: :map | :tracker | :cnode

  @typedoc "Why `install/1` or `uninstall/0` changed nothing."
  @type error ::
          :process_hub_not_loaded
          | {:missing_functions, [{atom(), arity()}]}
          | {:mode_unavailable, mode()}
          | :cnode_not_running
          | {:invalid_mode, term()}
          | {:already_installed, mode()}
          | {:no_object_code, module()}
          | :object_code_mismatch
          | :old_code_in_use
          | :not_installed
          | {:set_default_mode, term()}

  @doc """
  Replaces the loaded `ProcessHub.Service.RequestManager` on this node by the native
  drop-in, in `mode` (option `:mode`, else the application env `:mode`, else `:map`).

  Returns `:ok`, or `{:error, reason}` and changes nothing:

    * `:process_hub_not_loaded` — `ProcessHub.Service.RequestManager` is neither loaded
      nor loadable (ProcessHub is not in the code path);
    * `{:missing_functions, [{name, arity}]}` — ProcessHub's module exports functions
      that `:phn_request_manager` lacks (another ProcessHub version);
    * `{:mode_unavailable, mode}` — the drop-in of this build cannot run the mode:
      `:tracker` and `:cnode` need `:phn_request_manager.set_default_mode/1` to accept
      it, and `:tracker` a drop-in that takes over a `%{}` on `store` (checked with one
      store of an empty operation in a process of its own);
    * `:cnode_not_running` — `mode: :cnode` without `phn_cnode` on this node (start it
      with `config :process_hub_native, cnode: [start: true]` or in your own tree);
    * `{:invalid_mode, term}` — not one of `:map`, `:tracker`, `:cnode`;
    * `{:already_installed, mode}` — installed already (in `mode`): call `uninstall/0`
      first to change mode;
    * `{:no_object_code, module}` / `:object_code_mismatch` — the loaded module's object
      code cannot be found on the code path, or the file there is not the loaded
      version, so `uninstall/0` could not restore it exactly;
    * `:old_code_in_use` — a process still runs an older version of the module;
    * `{:set_default_mode, term}` — `:phn_request_manager.set_default_mode/1` refused
      the mode (it answered `term`).
  """
  @spec install(keyword()) :: :ok | {:error, error()}
  def install(opts \\ []) when is_list(opts) do
    mode = Keyword.get_lazy(opts, :mode, fn -> Application.get_env(:process_hub_native, :mode, :map) end)
    locked(fn -> do_install(mode) end)
  end

  @doc """
  Loads ProcessHub's own `ProcessHub.Service.RequestManager` back (the object code kept
  at `install/1`) and resets the drop-in's default mode. `{:error, :not_installed}` when
  the drop-in is not installed; `{:error, :old_code_in_use}` when a process still runs
  the original's code from before the install (nothing changed; try again).

  After tracker mode, a coordinator whose `pending_operations` the drop-in took over
  still holds the drop-in's container, which ProcessHub's own module does not know:
  restart such hubs after `uninstall/0`. Map and C-node modes leave the map in place.
  """
  @spec uninstall() :: :ok | {:error, :not_installed | :old_code_in_use}
  def uninstall, do: locked(&do_uninstall/0)

  @doc "True when this node's `ProcessHub.Service.RequestManager` is the native drop-in."
  @spec installed?() :: boolean()
  def installed?, do: mode() != nil

  @doc "The mode of the installed drop-in on this node, or `nil` when it is not installed."
  @spec mode() :: mode() | nil
  def mode do
    if :erlang.module_loaded(@target) do
      case Keyword.get(apply(@target, :module_info, [:attributes]), :process_hub_native) do
        [mode] -> mode
        _ -> nil
      end
    end
  end

  ## Install

  defp do_install(mode) do
    with :ok <- check_mode(mode),
         :ok <- check_not_installed(),
         {:ok, exports} <- original_exports(),
         :ok <- check_drop_in(exports),
         {:ok, original} <- original_object_code(),
         :ok <- check_runtime(mode),
         :ok <- purge_old(),
         :ok <- enter_mode(mode) do
      try do
        load_generated(mode, exports, struct_fields())
      rescue
        error ->
          _ = set_default_mode(:map)
          reraise error, __STACKTRACE__
      end

      :persistent_term.put(@key, original)
      :ok
    end
  end

  # Tracker and C-node modes are the drop-in's process-wide default mode.
  defp check_mode(:map), do: :ok

  defp check_mode(mode) when mode in [:tracker, :cnode],
    do: if(default_mode_settable?(), do: :ok, else: {:error, {:mode_unavailable, mode}})

  defp check_mode(other), do: {:error, {:invalid_mode, other}}

  # C-node mode collects through this node's phn_cnode: without it every operation would
  # quietly run in map mode.
  defp check_runtime(:cnode),
    do: if(Process.whereis(:phn_cnode), do: :ok, else: {:error, :cnode_not_running})

  defp check_runtime(_mode), do: :ok

  # Sets the drop-in's default mode, last before the swap (ProcessHub's coordinator still
  # calls the original meanwhile). Tracker mode must show that the drop-in takes over a
  # `%{}` on store; whatever fails puts the default back to map.
  defp enter_mode(mode) do
    result =
      with :ok <- set_default_mode(mode) do
        if mode == :tracker and not takes_over_map?(),
          do: {:error, {:mode_unavailable, :tracker}},
          else: :ok
      end

    if result != :ok, do: set_default_mode(:map)
    result
  end

  # One store of an empty operation into `%{}`, in a process of its own (whatever the
  # drop-in creates for it belongs to that process and goes with it).
  defp takes_over_map? do
    op = %{apply(@target, :__struct__, []) | transaction_id: make_ref(), nodes_data: []}

    fn ->
      try do
        %{pending_operations: pending} = apply(@drop_in, :store, [%{pending_operations: %{}}, op])
        not is_map(pending)
      catch
        _, _ -> false
      end
    end
    |> Task.async()
    |> Task.await()
  end

  defp check_not_installed do
    case mode() do
      nil -> :ok
      mode -> {:error, {:already_installed, mode}}
    end
  end

  defp original_exports do
    case Code.ensure_loaded(@target) do
      {:module, _} ->
        exports =
          for {name, arity} = fa <- apply(@target, :module_info, [:exports]),
              fa not in @own,
              not String.starts_with?(Atom.to_string(name), "MACRO-"),
              do: {name, arity}

        {:ok, exports}

      {:error, _} ->
        {:error, :process_hub_not_loaded}
    end
  end

  defp check_drop_in(exports) do
    Code.ensure_loaded(@drop_in)

    case Enum.reject(exports, fn {name, arity} -> function_exported?(@drop_in, name, arity) end) do
      [] -> :ok
      missing -> {:error, {:missing_functions, Enum.sort(missing)}}
    end
  end

  # The loaded version's binary, from the code path; its MD5 must be the loaded one's.
  defp original_object_code do
    with {@target, binary, file} <- :code.get_object_code(@target),
         {:ok, {@target, md5}} <- :beam_lib.md5(binary) do
      if md5 == apply(@target, :module_info, [:md5]),
        do: {:ok, {binary, file}},
        else: {:error, :object_code_mismatch}
    else
      _ -> {:error, {:no_object_code, @target}}
    end
  end

  defp purge_old do
    if :code.soft_purge(@target), do: :ok, else: {:error, :old_code_in_use}
  end

  # The struct's fields in the original's order (`__info__(:struct)`), with defaults.
  defp struct_fields do
    if function_exported?(@target, :__struct__, 0) do
      defaults = apply(@target, :__struct__, []) |> Map.delete(:__struct__)

      info =
        try do
          apply(@target, :__info__, [:struct])
        rescue
          _ -> nil
        end

      case info do
        [_ | _] ->
          {for(%{field: f} <- info, do: {f, Map.fetch!(defaults, f)}),
           for(%{field: f, required: true} <- info, do: f)}

        _ ->
          {Enum.sort(defaults), []}
      end
    end
  end

  defp default_mode_settable? do
    Code.ensure_loaded(@drop_in)
    function_exported?(@drop_in, :set_default_mode, 1)
  end

  defp set_default_mode(mode) do
    if default_mode_settable?() do
      try do
        apply(@drop_in, :set_default_mode, [mode])
      catch
        :error, _ -> {:error, {:mode_unavailable, mode}}
      else
        :ok -> :ok
        other -> {:error, {:set_default_mode, other}}
      end
    else
      :ok
    end
  end

  # With :telemetry loaded, the functions that can finish operations go through
  # ProcessHubNative.Events (which calls the drop-in, then emits); else straight on.
  @evented [handle_response: 4, cleanup_expired: 1]

  defp load_generated(mode, exports, struct) do
    targets =
      for fa <- exports, into: %{} do
        if fa in @evented and Code.ensure_loaded?(:telemetry),
          do: {fa, ProcessHubNative.Events},
          else: {fa, @drop_in}
      end

    quoted = ProcessHubNative.DropIn.quoted(@target, mode, targets, struct)
    previous = Code.get_compiler_option(:ignore_module_conflict)
    Code.put_compiler_option(:ignore_module_conflict, true)

    try do
      [{@target, _binary}] = Code.compile_quoted(quoted, "process_hub_native/drop_in")
    after
      Code.put_compiler_option(:ignore_module_conflict, previous)
    end

    :ok
  end

  ## Uninstall

  defp do_uninstall do
    case {mode(), :persistent_term.get(@key, nil)} do
      {mode, {binary, file}} when mode != nil ->
        if :code.soft_purge(@target) do
          {:module, @target} = :code.load_binary(@target, file, binary)
          :persistent_term.erase(@key)
          _ = set_default_mode(:map)
          :ok
        else
          {:error, :old_code_in_use}
        end

      _ ->
        {:error, :not_installed}
    end
  end

  # One install or uninstall at a time on this node.
  defp locked(fun), do: :global.trans({@lock, self()}, fun, [node()])
end
