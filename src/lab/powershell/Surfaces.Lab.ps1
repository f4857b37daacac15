# The surfaces of Surfaces.Windows.ps1 for the SSH test bed: the same functions with the same
# contracts, answered from the lab world instead of Windows. The host's facts come from
# labHostCli.js (registry keys from the world's instances, services from services_running, volumes
# from free_disk_gb, reboot keys from pending_reboot, the MSI mutex from installer_busy); processes
# are real: the installer's wrapper is detached from the SSH session as Win32_Process.Create detaches
# it, and "setup.exe" is a Node process that runs the staged file's execution in the world.
#
# The bed's sshd sets ADA_LAB_WORLD, ADA_LAB_HOST, ADA_LAB_NODE (node) and ADA_LAB_CLI (labHostCli.js)
# for every session. Runs under PowerShell 7 on Linux only.

function Get-LabHostFacts {
    # One read per operation: over SSH every operation runs in a PowerShell process of its own.
    $cached = Get-Variable -Name 'LabHostFacts' -Scope Script -ValueOnly -ErrorAction SilentlyContinue
    if ($null -ne $cached) { return $cached }
    $facts = Invoke-LabHostCli -Arguments @('host')
    Set-Variable -Name 'LabHostFacts' -Scope Script -Value $facts
    return $facts
}

function Find-LabInstance {
    # The instance whose name, or whose registered id (MSSQL15.MSSQLSERVER), is given; $null when none.
    param([Parameter(Mandatory = $true)][string]$Name)
    foreach ($instance in @((Get-LabHostFacts)['instances'])) {
        if ($instance['instance'] -eq $Name -or $instance['instanceId'] -eq $Name) { return $instance }
    }
    return $null
}

function Get-RegistryKeyValues {
    param([Parameter(Mandatory = $true)][string]$Path)
    $facts = Get-LabHostFacts
    $sqlRoot = 'HKLM:\SOFTWARE\Microsoft\Microsoft SQL Server\'
    if ($Path -eq ($sqlRoot + 'Instance Names\SQL')) {
        $names = [ordered]@{}
        foreach ($instance in @($facts['instances'])) { $names[$instance['instance']] = $instance['instanceId'] }
        return $names
    }
    if ($Path.StartsWith($sqlRoot, [System.StringComparison]::OrdinalIgnoreCase) -and $Path.EndsWith('\Setup', [System.StringComparison]::OrdinalIgnoreCase)) {
        $instanceId = $Path.Substring($sqlRoot.Length, $Path.Length - $sqlRoot.Length - '\Setup'.Length)
        $instance = Find-LabInstance -Name $instanceId
        if ($null -eq $instance) { return $null }
        return [ordered]@{
            Version    = $instance['version']
            PatchLevel = $instance['version']
            Edition    = $instance['edition']
            SP         = 0
            SQLBinRoot = 'C:\Program Files\Microsoft SQL Server\' + $instance['instanceId'] + '\MSSQL\Binn'
        }
    }
    if ($Path -eq 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending') {
        if ($facts['pendingReboot']) { return [ordered]@{} }
    }
    return $null
}

function Get-FileProductVersion {
    param([Parameter(Mandatory = $true)][string]$Path)
    $match = [regex]::Match($Path, '\\([^\\]+)\\MSSQL\\Binn\\sqlservr\.exe$', [System.Text.RegularExpressions.RegexOptions]::IgnoreCase)
    if (-not $match.Success) { return $null }
    $instance = Find-LabInstance -Name $match.Groups[1].Value
    if ($null -eq $instance) { return $null }
    return $instance['version']
}

function Get-ServiceStatus {
    param([Parameter(Mandatory = $true)][string]$Name)
    $instanceName = $null
    if ($Name -eq 'MSSQLSERVER' -or $Name -eq 'SQLSERVERAGENT') { $instanceName = 'MSSQLSERVER' }
    elseif ($Name -match '^(MSSQL|SQLAgent)\$(.+)$') { $instanceName = $Matches[2] }
    if ($null -eq $instanceName -or $null -eq (Find-LabInstance -Name $instanceName)) { return $null }
    if ((Get-LabHostFacts)['servicesRunning']) { return 'Running' }
    return 'Stopped'
}

function Get-FailoverClusterName {
    return $null
}

function Get-VolumeFreeBytes {
    param([Parameter(Mandatory = $true)][string]$Path)
    $facts = Get-LabHostFacts
    if ($Path -eq (Get-SystemDriveRoot)) { return [long]$facts['systemFreeBytes'] }
    return [long]$facts['stagingFreeBytes']
}

function Get-DirectorySecurityFacts {
    # The lab models one folder per host, the staging folder (the first one an operation asks about:
    # the folder before its parent); any other folder that exists reads as a safe one of Administrators.
    param([Parameter(Mandatory = $true)][string]$Path)
    $stagingPath = Get-Variable -Name 'LabStagingFolderPath' -Scope Script -ValueOnly -ErrorAction SilentlyContinue
    if ($null -eq $stagingPath) {
        $stagingPath = $Path
        Set-Variable -Name 'LabStagingFolderPath' -Scope Script -Value $Path
    }
    if ($Path -eq $stagingPath) { return (Invoke-LabHostCli -Arguments @('staging-folder'))['security'] }
    if (-not (Test-Path -LiteralPath $Path -PathType Container)) { return $null }
    return [ordered]@{ ownerSid = 'S-1-5-32-544'; owner = 'BUILTIN\Administrators'; isProtected = $true; rules = @() }
}

function New-ProtectedDirectory {
    param([Parameter(Mandatory = $true)][string]$Path)
    $null = New-Item -ItemType Directory -Path $Path -Force
    $null = Invoke-LabHostCli -Arguments @('create-staging-folder', $Path)
}

function Get-SystemDriveRoot {
    return 'C:\'
}

function Test-WindowsInstallerBusy {
    return [bool](Get-LabHostFacts)['installerBusy']
}

function Invoke-LabHostCli {
    # One call of labHostCli.js; its one line of JSON as a dictionary.
    param([Parameter(Mandatory = $true)][string[]]$Arguments)
    $node = $env:ADA_LAB_NODE
    if ([string]::IsNullOrEmpty($node)) { $node = 'node' }
    $output = @(& $node $env:ADA_LAB_CLI @Arguments 2>&1)
    if ($LASTEXITCODE -ne 0) {
        throw (New-OperationException -Type 'LabUnavailable' -Message ('the lab host CLI failed (exit {0}): {1}' -f $LASTEXITCODE, ($output -join ' ')))
    }
    return (ConvertFrom-OperationJson -Json (($output | ForEach-Object { [string]$_ }) -join "`n"))
}

function Get-AuthenticodeInfo {
    # What the staged lab installer says of its signature (Valid unless it says otherwise).
    param([Parameter(Mandatory = $true)][string]$Path)
    $signature = Invoke-LabHostCli -Arguments @('signature', $Path)
    return [ordered]@{ status = $signature['status']; signer = $signature['signer']; statusMessage = ('lab signature: {0}' -f $signature['status']) }
}

function Get-AttackSurfaceReductionRules {
    # The lab key asr_wmi_rule, as Get-MpPreference lists it.
    $mode = (Get-LabHostFacts)['asrWmiRule']
    if ([string]::IsNullOrEmpty([string]$mode)) { return }
    $actions = @{ off = 0; block = 1; audit = 2; warn = 6 }
    [ordered]@{ id = 'D1E49AAC-8F56-4280-B9BA-993A6D77406C'; action = $actions[[string]$mode] }
}

function Get-LabTaskFile {
    param([Parameter(Mandatory = $true)][string]$TaskName)
    $folder = Join-Path -Path ([System.IO.Path]::GetTempPath()) -ChildPath ('autodbaudit-lab-tasks-' + $env:ADA_LAB_HOST)
    if (-not (Test-Path -LiteralPath $folder)) { $null = New-Item -ItemType Directory -Path $folder -Force }
    return (Join-Path -Path $folder -ChildPath ($TaskName + '.json'))
}

function Start-OneShotTask {
    # The lab's task scheduler: the command starts detached (outside the SSH session, as the Task
    # Scheduler service's process is) and a file keeps its process id under the task's name.
    param(
        [Parameter(Mandatory = $true)][string]$TaskName,
        [Parameter(Mandatory = $true)][string]$FilePath,
        [Parameter(Mandatory = $true)][string]$ArgumentList,
        [Parameter(Mandatory = $true)][string]$WorkingDirectory
    )
    $processId = Start-LabDetachedProcess -FilePath $FilePath -ArgumentList $ArgumentList -WorkingDirectory $WorkingDirectory
    [System.IO.File]::WriteAllText((Get-LabTaskFile -TaskName $TaskName), [string]$processId)
}

function Get-OneShotTaskState {
    param([Parameter(Mandatory = $true)][string]$TaskName)
    $file = Get-LabTaskFile -TaskName $TaskName
    if (-not (Test-Path -LiteralPath $file)) { return $null }
    $processId = [int][System.IO.File]::ReadAllText($file)
    $stat = '/proc/{0}/stat' -f $processId
    if ((Test-Path -LiteralPath $stat) -and -not (Test-ProcessExited -ProcessId $processId)) { return [ordered]@{ state = 'Running'; lastTaskResult = 267009 } }
    return [ordered]@{ state = 'Ready'; lastTaskResult = 0 }
}

function Remove-OneShotTask {
    param([Parameter(Mandatory = $true)][string]$TaskName)
    Remove-Item -LiteralPath (Get-LabTaskFile -TaskName $TaskName) -Force -ErrorAction SilentlyContinue
}

function Start-DetachedProcess {
    # installer_start "wmi". Defender's ASR rule in block or warn mode (lab key asr_wmi_rule) stops it,
    # as Win32_Process.Create answers then.
    param(
        [Parameter(Mandatory = $true)][string]$FilePath,
        [Parameter(Mandatory = $true)][string]$ArgumentList,
        [Parameter(Mandatory = $true)][string]$WorkingDirectory
    )
    $mode = [string](Get-LabHostFacts)['asrWmiRule']
    if ($mode -eq 'block' -or $mode -eq 'warn') {
        throw (New-OperationException -Type 'ProcessStartFailed' -Message ('Win32_Process.Create was blocked by the attack surface reduction rule for PSExec and WMI commands ({0} mode) for {1}' -f $mode, $FilePath))
    }
    return (Start-LabDetachedProcess -FilePath $FilePath -ArgumentList $ArgumentList -WorkingDirectory $WorkingDirectory)
}

function Start-LabDetachedProcess {
    # sh starts the process in the background and exits, so init adopts it and it belongs to no SSH
    # session (killing sshd and its sessions leaves it running); setsid gives it a session of its own.
    param(
        [Parameter(Mandatory = $true)][string]$FilePath,
        [Parameter(Mandatory = $true)][string]$ArgumentList,
        [Parameter(Mandatory = $true)][string]$WorkingDirectory
    )
    $startInfo = New-Object -TypeName System.Diagnostics.ProcessStartInfo
    $startInfo.FileName = '/bin/sh'
    $startInfo.UseShellExecute = $false
    $startInfo.RedirectStandardOutput = $true
    $startInfo.WorkingDirectory = $WorkingDirectory
    $startInfo.ArgumentList.Add('-c')
    $startInfo.ArgumentList.Add('log=$1; shift; setsid "$@" </dev/null >/dev/null 2>>"$log" & echo $!')
    $startInfo.ArgumentList.Add('sh')
    $startInfo.ArgumentList.Add((Join-Path -Path $WorkingDirectory -ChildPath 'detached-process.stderr.log'))
    $startInfo.ArgumentList.Add($FilePath)
    # A Windows command line; the operations pass switches and base64 only, quoted or not.
    foreach ($token in [regex]::Matches($ArgumentList, '"([^"]*)"|(\S+)')) {
        if ($token.Groups[1].Success) { $startInfo.ArgumentList.Add($token.Groups[1].Value) } else { $startInfo.ArgumentList.Add($token.Groups[2].Value) }
    }
    $launcher = [System.Diagnostics.Process]::Start($startInfo)
    $printed = $launcher.StandardOutput.ReadToEnd()
    $launcher.WaitForExit()
    return [int]$printed.Trim()
}

function Invoke-PackageExtraction {
    # Runs in the detached wrapper, standing alone: a lab package extracts to a setup.exe that is its copy.
    param(
        [Parameter(Mandatory = $true)][string]$PackagePath,
        [Parameter(Mandatory = $true)][string]$Destination
    )
    $null = New-Item -ItemType Directory -Path $Destination -Force
    Copy-Item -LiteralPath $PackagePath -Destination (Join-Path -Path $Destination -ChildPath 'setup.exe') -Force
    return 0
}

function Start-InstallerProcess {
    # Runs in the detached wrapper, which holds only this function of this file: it must stand alone.
    # "setup.exe" is labHostCli.js run-installer, acting on the world. Its exit code can be 32-bit
    # (1603, 3010, -2068643838) where a POSIX exit status ends at 255, so it prints the full code and
    # the object returned reads it from there once the process has exited.
    param(
        [Parameter(Mandatory = $true)][string]$FilePath,
        [Parameter(Mandatory = $true)][AllowEmptyString()][string]$ArgumentList,
        [Parameter(Mandatory = $true)][string]$WorkingDirectory,
        [Parameter(Mandatory = $true)][string]$ExecutionId,
        [Parameter(Mandatory = $true)][string]$PackagePath
    )
    # The extracted setup.exe is the package's copy; the world knows the execution by the package's name.
    $null = $FilePath
    $node = $env:ADA_LAB_NODE
    if ([string]::IsNullOrEmpty($node)) { $node = 'node' }
    $startInfo = New-Object -TypeName System.Diagnostics.ProcessStartInfo
    $startInfo.FileName = $node
    $startInfo.UseShellExecute = $false
    $startInfo.RedirectStandardOutput = $true
    $startInfo.WorkingDirectory = $WorkingDirectory
    foreach ($argument in @($env:ADA_LAB_CLI, 'run-installer', $ExecutionId, $PackagePath, $ArgumentList)) { $startInfo.ArgumentList.Add($argument) }
    $process = [System.Diagnostics.Process]::Start($startInfo)
    $installer = [pscustomobject]@{ Id = $process.Id; ExitCode = $null; Process = $process }
    Add-Member -InputObject $installer -MemberType ScriptMethod -Name 'WaitForExit' -Value {
        $printed = $this.Process.StandardOutput.ReadToEnd()
        $this.Process.WaitForExit()
        $reported = [regex]::Match($printed, '"exitCode":(-?[0-9]+)')
        if ($reported.Success) { $this.ExitCode = [int]$reported.Groups[1].Value } else { $this.ExitCode = $this.Process.ExitCode }
    }
    return $installer
}

function Get-ChildProcessId {
    # Children of a process, from /proc/<pid>/stat (state and parent id follow the command name).
    param([Parameter(Mandatory = $true)][int]$ProcessId)
    foreach ($directory in [System.IO.Directory]::GetDirectories('/proc')) {
        $name = [System.IO.Path]::GetFileName($directory)
        if ($name -notmatch '^[0-9]+$') { continue }
        try {
            $stat = [System.IO.File]::ReadAllText($directory + '/stat')
        } catch {
            continue
        }
        $fields = $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')
        if ($fields[0] -ne 'Z' -and [int]$fields[1] -eq $ProcessId) { [int]$name }
    }
}

function Invoke-SqlServerPropertyQuery {
    param([Parameter(Mandatory = $true)][string]$Instance)
    $found = Find-LabInstance -Name $Instance
    if ($null -eq $found -or -not (Get-LabHostFacts)['servicesRunning']) {
        throw (New-OperationException -Type 'SqlQueryFailed' -Message ('cannot connect to (local)\{0}: the service is not running' -f $Instance))
    }
    return [ordered]@{ ProductVersion = $found['version']; ProductLevel = 'RTM'; ProductUpdateLevel = $null; Edition = $found['edition'] }
}

function Get-SetupBootstrapLogDirectory {
    param([AllowNull()][AllowEmptyString()][string]$MajorVersion)
    return (Get-LabHostFacts)['setupLogDirectory']
}

function Invoke-LocalSqlRows {
    # The lab answers the topology queries below from its world; no SQL runs on a test-bed host.
    param([Parameter(Mandatory = $true)][string]$Instance, [Parameter(Mandatory = $true)][string]$CommandText)
    throw (New-OperationException -Type 'SqlQueryFailed' -Message 'the lab runs no SQL; its surfaces answer the topology queries themselves')
}

function Clear-LabTopologyRows {
    Set-Variable -Name 'LabTopologyRows' -Scope Script -Value @{}
}

function Get-LabTopologyRows {
    # One read per instance per operation: labHostCli.js topology <instance>.
    param([Parameter(Mandatory = $true)][string]$Instance)
    $cache = Get-Variable -Name 'LabTopologyRows' -Scope Script -ValueOnly -ErrorAction SilentlyContinue
    if ($null -eq $cache) {
        $cache = @{}
        Set-Variable -Name 'LabTopologyRows' -Scope Script -Value $cache
    }
    if (-not $cache.ContainsKey($Instance)) { $cache[$Instance] = Invoke-LabHostCli -Arguments @('topology', $Instance) }
    $rows = $cache[$Instance]
    if ($null -ne $rows['error']) { throw (New-OperationException -Type 'SqlQueryFailed' -Message $rows['error']) }
    return $rows
}

function Invoke-SqlClusterQuery {
    param([Parameter(Mandatory = $true)][string]$Instance)
    return (Get-LabTopologyRows -Instance $Instance)['cluster']
}

function Invoke-SqlHadrReplicaQuery {
    param([Parameter(Mandatory = $true)][string]$Instance)
    foreach ($row in @((Get-LabTopologyRows -Instance $Instance)['replicas'])) {
        if ($null -ne $row) { $row }
    }
}

function Invoke-SqlHadrDatabaseQuery {
    param([Parameter(Mandatory = $true)][string]$Instance)
    foreach ($row in @((Get-LabTopologyRows -Instance $Instance)['databases'])) {
        if ($null -ne $row) { $row }
    }
}

function Invoke-LocalSqlNonQuery {
    # The statements the operations send are run against the lab world (labHostCli.js sql), which
    # understands exactly those forms.
    param([Parameter(Mandatory = $true)][string]$Instance, [Parameter(Mandatory = $true)][string]$CommandText)
    [void](Invoke-LabHostCli -Arguments @('sql', $Instance, $CommandText))
    # The statement changed the world: what this operation read before it is stale (an operation
    # reads again afterwards to check that the change took).
    Clear-LabTopologyRows
}

function Get-SqlClusterGroup {
    param([Parameter(Mandatory = $true)][string]$Instance)
    throw (New-OperationException -Type 'ClusterRoleNotFound' -Message 'the lab has no cluster groups; its surfaces answer role owners and moves themselves')
}

function Get-SqlClusterRoleOwner {
    param([Parameter(Mandatory = $true)][string]$Instance)
    return [string](Invoke-LabHostCli -Arguments @('role-owner', $Instance))['owner']
}

function Move-SqlClusterRole {
    param([Parameter(Mandatory = $true)][string]$Instance, [Parameter(Mandatory = $true)][string]$Node)
    $owner = [string](Invoke-LabHostCli -Arguments @('move-role', $Instance, $Node))['owner']
    Clear-LabTopologyRows
    return $owner
}

function Invoke-SqlDatabaseStateQuery {
    # The lab's databases are online whenever their engine answers.
    param([Parameter(Mandatory = $true)][string]$Instance)
    $null = Invoke-SqlServerPropertyQuery -Instance $Instance
    foreach ($name in @('master', 'tempdb', 'model', 'msdb')) { [ordered]@{ name = $name; state = 'ONLINE' } }
}

function Get-LastBootTime {
    return [string](Invoke-LabHostCli -Arguments @('boot-time'))['bootTime']
}

function Invoke-HostRestart {
    # The world restarts the host; the test bed stops and starts its sshd to stand for the reboot.
    param([Parameter(Mandatory = $true)][string]$Comment)
    $result = Invoke-LabHostCli -Arguments @('restart', $Comment)
    if ($result['alreadyUnderWay']) { return 1190 }
    return 0
}
