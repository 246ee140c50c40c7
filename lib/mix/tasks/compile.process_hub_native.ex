defmodule Mix.Tasks.Compile.ProcessHubNative do
  @shortdoc "Builds process_hub_native's C (NIF and C-node) into the Mix build directory"

  @moduledoc """
  Builds the NIF library (`phn_nif.so`) and the C-node (`phn_cnode`) with
  `make -C c_src` under `<build>/process_hub_native_obj` and copies them into the Mix
  build directory of the application (`<build>/lib/process_hub_native/priv`) on every
  run: Mix copies a checkout's own `priv/` there when it has one, and the copy must not
  stand in for what this build made. Nothing is written into the source tree, so a path
  or git dependency stays clean and two projects can share one checkout.

  Listed in the project's `compilers:` after Mix's own. `make` decides what is stale;
  `CC`, `CFLAGS` and the rest of the environment reach it unchanged. `mix clean` removes
  the objects and the built files.
  """

  use Mix.Task.Compiler

  @impl Mix.Task.Compiler
  def run(_args) do
    if System.find_executable("make"),
      do: build(),
      else: fail("make", "`make` not found: the C build of process_hub_native needs make and a C compiler")
  end

  defp build do
    {priv, obj} = dirs()
    :ok = real_priv_dir(priv)
    File.mkdir_p!(obj)
    c_src = Path.join(Mix.Project.project_file() |> Path.dirname(), "c_src")

    built = Path.join(obj, "priv")

    case System.cmd("make", ["-s", "-C", c_src, "all", "PRIV=" <> built, "OBJ=" <> obj],
           stderr_to_stdout: true,
           into: IO.stream(:stdio, :line)
         ) do
      {_, 0} ->
        for {file, mode} <- [{"phn_nif.so", 0o644}, {"phn_cnode", 0o755}] do
          dest = Path.join(priv, file)
          File.cp!(Path.join(built, file), dest)
          File.chmod!(dest, mode)
        end

        {:ok, []}

      {_, status} ->
        fail(c_src, "make -C #{c_src} failed (exit status #{status})")
    end
  end

  defp fail(file, message) do
    Mix.shell().error(message)
    {:error, [diagnostic(file, message)]}
  end

  @impl Mix.Task.Compiler
  def clean do
    {priv, obj} = dirs()
    File.rm_rf!(obj)
    for file <- ["phn_nif.so", "phn_cnode"], do: File.rm(Path.join(priv, file))
    :ok
  end

  defp dirs do
    priv = Path.join(Mix.Project.app_path(), "priv")
    obj = Path.join(Mix.Project.build_path(), "process_hub_native_obj")
    {priv, obj}
  end

  # Mix links the build's priv to the source's priv/ when the checkout has one; writing
  # through that link would build into the source tree. Make it a directory of its own.
  defp real_priv_dir(priv) do
    case File.lstat(priv) do
      {:ok, %File.Stat{type: :symlink}} -> File.rm!(priv)
      _ -> :ok
    end

    File.mkdir_p!(priv)
  end

  defp diagnostic(file, message) do
    %Mix.Task.Compiler.Diagnostic{
      compiler_name: "process_hub_native",
      file: file,
      message: message,
      position: nil,
      severity: :error
    }
  end
end
