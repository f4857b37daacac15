# The Windows-only surfaces of the target-side operations: every call that needs the registry,
# services, CIM, volumes, Windows Installer, Authenticode, SqlClient or Program Files lives in one of
# these small functions. The Pester tests mock exactly these, and a test bed can load another file that
# defines the same functions over a simulated lab. Everything else in the operations runs on any OS.
# Functions that return a list write its items to the pipeline; callers collect them with @().
# Windows PowerShell 5.1 compatible.

function Get-RegistryKeyValues {
    # A key's values as a name -> value dictionary; $null when the key does not exist, an empty
    # dictionary when it exists without values (some reboot markers are bare keys).
    param([Parameter(Mandatory = $true)][string]$Path)
    if (-not (Test-Path -LiteralPath $Path)) { return $null }
    $key = Get-Item -LiteralPath $Path
    $values = [ordered]@{}
    foreach ($name in $key.GetValueNames()) { $values[$name] = $key.GetValue($name) }
    return $values
}

function Get-FileProductVersion {
    # "15.0.4298.1" from the file's version resource; $null when the file is missing.
    param([Parameter(Mandatory = $true)][string]$Path)
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { return $null }
    $info = [System.Diagnostics.FileVersionInfo]::GetVersionInfo($Path)
    return ('{0}.{1}.{2}.{3}' -f $info.ProductMajorPart, $info.ProductMinorPart, $info.ProductBuildPart, $info.ProductPrivatePart)
}

function Get-ServiceStatus {
    # "Running", "Stopped", ... as the service control manager reports it; $null when there is no such service.
    param([Parameter(Mandatory = $true)][string]$Name)
    $service = Get-Service -Name $Name -ErrorAction SilentlyContinue
    if ($null -eq $service) { return $null }
    return [string]$service.Status
}

function Get-FailoverClusterName {
    # A failover cluster node has the cluster hive loaded at HKLM:\Cluster while its cluster service runs.
    $cluster = Get-ItemProperty -LiteralPath 'HKLM:\Cluster' -Name 'ClusterName' -ErrorAction SilentlyContinue
    if ($null -eq $cluster) { return $null }
    return [string]$cluster.ClusterName
}

function Get-VolumeFreeBytes {
    # Free bytes available to the caller on the volume that holds the path (which need not exist yet).
    param([Parameter(Mandatory = $true)][string]$Path)
    $root = [System.IO.Path]::GetPathRoot($Path)
    $drive = New-Object -TypeName System.IO.DriveInfo -ArgumentList $root
    return [long]$drive.AvailableFreeSpace
}

function Get-DirectorySecurityFacts {
    # A folder's owner and access rules, by SID; $null when there is no such folder. Rights are the
    # FileSystemRights bits as a number, so the operation decides what counts as writing.
    param([Parameter(Mandatory = $true)][string]$Path)
    if (-not (Test-Path -LiteralPath $Path -PathType Container)) { return $null }
    $acl = Get-Acl -LiteralPath $Path
    $sidType = [System.Security.Principal.SecurityIdentifier]
    $rules = New-Object -TypeName 'System.Collections.Generic.List[object]'
    foreach ($rule in $acl.GetAccessRules($true, $true, $sidType)) {
        $sid = $rule.IdentityReference.Value
        $identity = $sid
        try { $identity = $rule.IdentityReference.Translate([System.Security.Principal.NTAccount]).Value } catch { $identity = $sid }
        # An inherit-only rule (CREATOR OWNER's, typically) applies to what is created inside, not to the folder.
        $inheritOnly = (($rule.PropagationFlags -band [System.Security.AccessControl.PropagationFlags]::InheritOnly) -ne 0)
        $rules.Add([ordered]@{ sid = $sid; identity = $identity; type = [string]$rule.AccessControlType; rights = [long]$rule.FileSystemRights; inheritOnly = $inheritOnly })
    }
    $ownerSid = $acl.GetOwner($sidType).Value
    return [ordered]@{ ownerSid = $ownerSid; owner = $acl.Owner; isProtected = [bool]$acl.AreAccessRulesProtected; rules = $rules.ToArray() }
}

function New-ProtectedDirectory {
    # Creates a folder (and missing parents) whose ACL grants only SYSTEM and Administrators full
    # control, inherited by everything created in it, nothing inherited from the parent, owned by
    # Administrators. Windows PowerShell's .NET creates it with that ACL in one call; elsewhere it is
    # created and then protected, and the caller reads the result back.
    param([Parameter(Mandatory = $true)][string]$Path)
    $security = New-Object -TypeName System.Security.AccessControl.DirectorySecurity
    $security.SetAccessRuleProtection($true, $false)
    $inheritance = [System.Security.AccessControl.InheritanceFlags]'ContainerInherit, ObjectInherit'
    foreach ($sid in @('S-1-5-18', 'S-1-5-32-544')) {
        $identity = New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList $sid
        $rule = New-Object -TypeName System.Security.AccessControl.FileSystemAccessRule -ArgumentList $identity, 'FullControl', $inheritance, 'None', 'Allow'
        $security.AddAccessRule($rule)
    }
    $security.SetOwner((New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList 'S-1-5-32-544'))
    $withAcl = [System.IO.Directory].GetMethod('CreateDirectory', [type[]]@([string], [System.Security.AccessControl.DirectorySecurity]))
    if ($null -ne $withAcl) {
        $null = $withAcl.Invoke($null, @($Path, $security))
    } else {
        $null = New-Item -ItemType Directory -Path $Path -Force
        Set-Acl -LiteralPath $Path -AclObject $security
        # Between the two calls the folder had its parent's ACL: anything put there meanwhile is refused.
        if (@(Get-ChildItem -LiteralPath $Path -Force).Count -gt 0) {
            throw (New-OperationException -Type 'StagingFolderUnsafe' -Message ('the new staging folder "{0}" was not empty once protected' -f $Path))
        }
    }
}

function Get-SystemDriveRoot {
    return ($env:SystemDrive + '\')
}

function Test-WindowsInstallerBusy {
    # msiexec holds this mutex for the whole of an installation; Windows Installer runs one at a time.
    $mutex = $null
    try {
        if ([System.Threading.Mutex]::TryOpenExisting('Global\_MSIExecute', [ref]$mutex)) {
            $mutex.Dispose()
            return $true
        }
        return $false
    } catch [System.UnauthorizedAccessException] {
        # The mutex exists but belongs to another account: an installation is running.
        return $true
    }
}

function Get-AuthenticodeInfo {
    param([Parameter(Mandatory = $true)][string]$Path)
    $signature = Get-AuthenticodeSignature -LiteralPath $Path
    $signer = $null
    if ($null -ne $signature.SignerCertificate) { $signer = $signature.SignerCertificate.Subject }
    return [ordered]@{ status = [string]$signature.Status; signer = $signer; statusMessage = [string]$signature.StatusMessage }
}

function Start-DetachedProcess {
    # installer_start "wmi": a process created by the WMI service is outside the WinRM shell's job
    # object, so it goes on running when the remoting session ends or breaks. It runs as the connected
    # account. Defender's ASR rule "Block process creations originating from PSExec and WMI commands"
    # stops exactly this in block mode.
    param(
        [Parameter(Mandatory = $true)][string]$FilePath,
        [Parameter(Mandatory = $true)][string]$ArgumentList,
        [Parameter(Mandatory = $true)][string]$WorkingDirectory
    )
    $commandLine = '"{0}" {1}' -f $FilePath, $ArgumentList
    $created = Invoke-CimMethod -ClassName Win32_Process -MethodName Create -Arguments @{ CommandLine = $commandLine; CurrentDirectory = $WorkingDirectory }
    if ($created.ReturnValue -ne 0) {
        throw (New-OperationException -Type 'ProcessStartFailed' -Message ('Win32_Process.Create returned {0} for {1}' -f $created.ReturnValue, $FilePath))
    }
    return [int]$created.ProcessId
}

function Start-OneShotTask {
    # Registers a one-shot scheduled task that runs the command as SYSTEM at the highest run level, and
    # starts it. The process it creates belongs to the Task Scheduler service, not to the remoting
    # session (it outlives the session), has a full token, and is what hardened hosts allow where
    # Defender's ASR rule blocks processes created through WMI. No trigger: it runs when started.
    param(
        [Parameter(Mandatory = $true)][string]$TaskName,
        [Parameter(Mandatory = $true)][string]$FilePath,
        [Parameter(Mandatory = $true)][string]$ArgumentList,
        [Parameter(Mandatory = $true)][string]$WorkingDirectory
    )
    $action = New-ScheduledTaskAction -Execute $FilePath -Argument $ArgumentList -WorkingDirectory $WorkingDirectory
    $principal = New-ScheduledTaskPrincipal -UserId 'NT AUTHORITY\SYSTEM' -LogonType ServiceAccount -RunLevel Highest
    # No time limit (the default stops a task after 72 hours) and nothing that would stop or skip it on battery.
    $settings = New-ScheduledTaskSettingsSet -ExecutionTimeLimit ([TimeSpan]::Zero) -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries -MultipleInstances IgnoreNew
    $task = New-ScheduledTask -Action $action -Principal $principal -Settings $settings -Description 'AutoDBAudit: one SQL Server setup execution (removed once it has ended)'
    $null = Register-ScheduledTask -TaskName $TaskName -TaskPath '\AutoDBAudit\' -InputObject $task -Force -ErrorAction Stop
    Start-ScheduledTask -TaskName $TaskName -TaskPath '\AutoDBAudit\' -ErrorAction Stop
}

function Get-OneShotTaskState {
    # The task's state (Ready, Queued, Running, Disabled) and LastTaskResult; $null when there is no such task.
    param([Parameter(Mandatory = $true)][string]$TaskName)
    $task = Get-ScheduledTask -TaskName $TaskName -TaskPath '\AutoDBAudit\' -ErrorAction SilentlyContinue
    if ($null -eq $task) { return $null }
    $info = Get-ScheduledTaskInfo -TaskName $TaskName -TaskPath '\AutoDBAudit\'
    return [ordered]@{ state = [string]$task.State; lastTaskResult = [long]$info.LastTaskResult }
}

function Remove-OneShotTask {
    param([Parameter(Mandatory = $true)][string]$TaskName)
    Unregister-ScheduledTask -TaskName $TaskName -TaskPath '\AutoDBAudit\' -Confirm:$false -ErrorAction SilentlyContinue
}

function Get-AttackSurfaceReductionRules {
    # Defender's ASR rules as configured (Get-MpPreference): id and action (0 off, 1 block, 2 audit,
    # 6 warn). Empty when Defender or its module is not there.
    $preference = $null
    try {
        $preference = Get-MpPreference -ErrorAction Stop
    } catch {
        return
    }
    $ids = @($preference.AttackSurfaceReductionRules_Ids)
    $actions = @($preference.AttackSurfaceReductionRules_Actions)
    for ($i = 0; $i -lt $ids.Count; $i++) {
        if ($null -eq $ids[$i]) { continue }
        $action = $null
        if ($i -lt $actions.Count) { $action = [int]$actions[$i] }
        [ordered]@{ id = [string]$ids[$i]; action = $action }
    }
}

function Invoke-PackageExtraction {
    # Runs in the detached wrapper: extracts a SQL Server update package into Destination with
    # "/x:<folder> /q" (the package's own self-extractor, quiet) and returns its exit code.
    param(
        [Parameter(Mandatory = $true)][string]$PackagePath,
        [Parameter(Mandatory = $true)][string]$Destination
    )
    $startInfo = New-Object -TypeName System.Diagnostics.ProcessStartInfo
    $startInfo.FileName = $PackagePath
    $startInfo.Arguments = '/x:"{0}" /q' -f $Destination
    $startInfo.UseShellExecute = $false
    $startInfo.CreateNoWindow = $true
    $startInfo.WorkingDirectory = [System.IO.Path]::GetDirectoryName($PackagePath)
    $process = [System.Diagnostics.Process]::Start($startInfo)
    $process.WaitForExit()
    return $process.ExitCode
}

function Start-InstallerProcess {
    # Runs in the detached wrapper: starts the installer (setup.exe of the extracted package) and
    # returns its process, of which the wrapper reads .Id, calls .WaitForExit() and then reads
    # .ExitCode. ExecutionId and PackagePath are for surfaces that keep their own record of executions
    # (the lab's); Windows needs only the process.
    param(
        [Parameter(Mandatory = $true)][string]$FilePath,
        [Parameter(Mandatory = $true)][AllowEmptyString()][string]$ArgumentList,
        [Parameter(Mandatory = $true)][string]$WorkingDirectory,
        [Parameter(Mandatory = $true)][string]$ExecutionId,
        [Parameter(Mandatory = $true)][string]$PackagePath
    )
    $startInfo = New-Object -TypeName System.Diagnostics.ProcessStartInfo
    $startInfo.FileName = $FilePath
    # The mapping's parameters go to the installer exactly as written.
    $startInfo.Arguments = $ArgumentList
    $startInfo.UseShellExecute = $false
    $startInfo.CreateNoWindow = $true
    $startInfo.WorkingDirectory = $WorkingDirectory
    return [System.Diagnostics.Process]::Start($startInfo)
}

function Get-ChildProcessId {
    # Ids of the processes whose parent is the given one (Windows keeps the parent id after the parent exits).
    param([Parameter(Mandatory = $true)][int]$ProcessId)
    foreach ($child in @(Get-CimInstance -ClassName Win32_Process -Filter ('ParentProcessId = {0}' -f $ProcessId))) {
        [int]$child.ProcessId
    }
}

function Invoke-SqlServerPropertyQuery {
    # SERVERPROPERTY through SqlClient with integrated security against the local instance: the
    # remoting session's own token is used on this host, so no credential makes a second hop.
    param([Parameter(Mandatory = $true)][string]$Instance)
    $builder = New-Object -TypeName System.Data.SqlClient.SqlConnectionStringBuilder
    if ($Instance -eq 'MSSQLSERVER') { $builder.DataSource = '(local)' } else { $builder.DataSource = '(local)\' + $Instance }
    $builder.IntegratedSecurity = $true
    $builder.ConnectTimeout = 15
    $builder.ApplicationName = 'AutoDBAudit'
    $connection = New-Object -TypeName System.Data.SqlClient.SqlConnection -ArgumentList $builder.ConnectionString
    try {
        $connection.Open()
        $command = $connection.CreateCommand()
        $command.CommandTimeout = 30
        $command.CommandText = "SELECT CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)) AS ProductVersion, " +
        "CAST(SERVERPROPERTY('ProductLevel') AS nvarchar(128)) AS ProductLevel, " +
        "CAST(SERVERPROPERTY('ProductUpdateLevel') AS nvarchar(128)) AS ProductUpdateLevel, " +
        "CAST(SERVERPROPERTY('Edition') AS nvarchar(128)) AS Edition"
        $reader = $command.ExecuteReader()
        try {
            if (-not $reader.Read()) { throw (New-OperationException -Type 'SqlQueryFailed' -Message 'SERVERPROPERTY returned no row') }
            $row = [ordered]@{}
            for ($column = 0; $column -lt $reader.FieldCount; $column++) {
                $value = $null
                if (-not $reader.IsDBNull($column)) { $value = [string]$reader.GetValue($column) }
                $row[$reader.GetName($column)] = $value
            }
            return $row
        } finally {
            $reader.Dispose()
        }
    } finally {
        $connection.Dispose()
    }
}

function Invoke-SqlDatabaseStateQuery {
    # Each database of the local instance with its state_desc (ONLINE, RECOVERING, SUSPECT, ...), through
    # SqlClient with integrated security, as Invoke-SqlServerPropertyQuery connects.
    param([Parameter(Mandatory = $true)][string]$Instance)
    $builder = New-Object -TypeName System.Data.SqlClient.SqlConnectionStringBuilder
    if ($Instance -eq 'MSSQLSERVER') { $builder.DataSource = '(local)' } else { $builder.DataSource = '(local)\' + $Instance }
    $builder.IntegratedSecurity = $true
    $builder.ConnectTimeout = 15
    $builder.ApplicationName = 'AutoDBAudit'
    $connection = New-Object -TypeName System.Data.SqlClient.SqlConnection -ArgumentList $builder.ConnectionString
    try {
        $connection.Open()
        $command = $connection.CreateCommand()
        $command.CommandTimeout = 30
        $command.CommandText = 'SELECT name, state_desc FROM sys.databases'
        $reader = $command.ExecuteReader()
        try {
            while ($reader.Read()) { [ordered]@{ name = [string]$reader.GetValue(0); state = [string]$reader.GetValue(1) } }
        } finally {
            $reader.Dispose()
        }
    } finally {
        $connection.Dispose()
    }
}

function Get-LastBootTime {
    # When Windows last started, ISO-8601 UTC with milliseconds (Win32_OperatingSystem.LastBootUpTime).
    $os = Get-CimInstance -ClassName Win32_OperatingSystem
    return $os.LastBootUpTime.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ss.fffZ', [System.Globalization.CultureInfo]::InvariantCulture)
}

function Invoke-HostRestart {
    # Restarts Windows in 5 seconds (/r /t 5: time for this operation's answer to reach the orchestrator
    # before the session goes down), closing applications that would hold it up (/f), recorded as a
    # planned restart for a hot fix (/d p:2:17) with the comment naming the run (/c, event 1074).
    # Returns shutdown.exe's exit code.
    param([Parameter(Mandatory = $true)][string]$Comment)
    $shutdown = Join-Path -Path $env:SystemRoot -ChildPath 'System32\shutdown.exe'
    & $shutdown /r /t 5 /f /d p:2:17 /c $Comment | Out-Null
    return $LASTEXITCODE
}

function Get-SetupBootstrapLogDirectory {
    # SQL Server setup's log folders: one major version's (e.g. "150"), or every installed version's.
    param([AllowNull()][AllowEmptyString()][string]$MajorVersion)
    $root = Join-Path -Path $env:ProgramFiles -ChildPath 'Microsoft SQL Server'
    if (-not [string]::IsNullOrEmpty($MajorVersion)) {
        Join-Path -Path $root -ChildPath ($MajorVersion + '\Setup Bootstrap\Log')
    } elseif (Test-Path -LiteralPath $root -PathType Container) {
        foreach ($versionFolder in @(Get-ChildItem -LiteralPath $root -Directory)) {
            Join-Path -Path $versionFolder.FullName -ChildPath 'Setup Bootstrap\Log'
        }
    }
}

function Invoke-LocalSqlRows {
    # Rows of one query against the local instance (SqlClient, integrated security, as
    # Invoke-SqlServerPropertyQuery), each a column name -> value dictionary; DBNull becomes $null.
    param([Parameter(Mandatory = $true)][string]$Instance, [Parameter(Mandatory = $true)][string]$CommandText)
    $builder = New-Object -TypeName System.Data.SqlClient.SqlConnectionStringBuilder
    if ($Instance -eq 'MSSQLSERVER') { $builder.DataSource = '(local)' } else { $builder.DataSource = '(local)\' + $Instance }
    $builder.IntegratedSecurity = $true
    $builder.ConnectTimeout = 15
    $builder.ApplicationName = 'AutoDBAudit'
    $connection = New-Object -TypeName System.Data.SqlClient.SqlConnection -ArgumentList $builder.ConnectionString
    try {
        $connection.Open()
        $command = $connection.CreateCommand()
        $command.CommandTimeout = 30
        $command.CommandText = $CommandText
        $reader = $command.ExecuteReader()
        try {
            while ($reader.Read()) {
                $row = [ordered]@{}
                for ($column = 0; $column -lt $reader.FieldCount; $column++) {
                    $value = $null
                    if (-not $reader.IsDBNull($column)) { $value = $reader.GetValue($column) }
                    $row[$reader.GetName($column)] = $value
                }
                $row
            }
        } finally {
            $reader.Dispose()
        }
    } finally {
        $connection.Dispose()
    }
}

function Invoke-SqlClusterQuery {
    # Whether the instance is a failover cluster instance, the node that runs it now, the nodes that
    # can own it, and whether Always On is enabled. ComputerNamePhysicalNetBIOS names the owning node.
    param([Parameter(Mandatory = $true)][string]$Instance)
    $facts = @(Invoke-LocalSqlRows -Instance $Instance -CommandText ("SELECT CAST(SERVERPROPERTY('IsClustered') AS int) AS is_clustered, " +
            "CAST(SERVERPROPERTY('IsHadrEnabled') AS int) AS is_hadr_enabled, " +
            "CAST(SERVERPROPERTY('ComputerNamePhysicalNetBIOS') AS nvarchar(128)) AS physical_node, " +
            "CAST(@@SERVERNAME AS nvarchar(256)) AS server_name"))[0]
    $nodes = @()
    if ($facts['is_clustered'] -eq 1) {
        $nodes = @(Invoke-LocalSqlRows -Instance $Instance -CommandText 'SELECT NodeName AS node_name FROM sys.dm_os_cluster_nodes ORDER BY NodeName' | ForEach-Object { [string]$_['node_name'] })
    }
    $facts['nodes'] = $nodes
    return $facts
}

function Invoke-SqlHadrReplicaQuery {
    # One row per replica of every availability group the instance belongs to. The replica states
    # DMV has rows for every replica on the primary, and only for the local one on a secondary.
    param([Parameter(Mandatory = $true)][string]$Instance)
    Invoke-LocalSqlRows -Instance $Instance -CommandText ('SELECT ag.name AS group_name, ar.replica_server_name, ar.availability_mode_desc, ar.failover_mode_desc, ' +
        'ars.role_desc, ars.connected_state_desc, CASE WHEN ar.replica_server_name = @@SERVERNAME THEN 1 ELSE 0 END AS is_local ' +
        'FROM sys.availability_groups AS ag ' +
        'JOIN sys.availability_replicas AS ar ON ar.group_id = ag.group_id ' +
        'LEFT JOIN sys.dm_hadr_availability_replica_states AS ars ON ars.replica_id = ar.replica_id ' +
        'ORDER BY ag.name, ar.replica_server_name')
}

function Invoke-SqlHadrDatabaseQuery {
    # Per replica of each availability group: how many of its databases are in each synchronization
    # state, and whether all are failover ready (is_failover_ready lives in the cluster states DMV).
    param([Parameter(Mandatory = $true)][string]$Instance)
    Invoke-LocalSqlRows -Instance $Instance -CommandText ('SELECT ag.name AS group_name, ar.replica_server_name, COUNT(*) AS database_count, ' +
        "SUM(CASE WHEN drs.synchronization_state_desc = 'SYNCHRONIZED' THEN 1 ELSE 0 END) AS synchronized_count, " +
        "SUM(CASE WHEN drs.synchronization_state_desc = 'NOT SYNCHRONIZING' THEN 1 ELSE 0 END) AS not_synchronizing_count, " +
        'MIN(CAST(drcs.is_failover_ready AS int)) AS failover_ready ' +
        'FROM sys.dm_hadr_database_replica_states AS drs ' +
        'JOIN sys.availability_replicas AS ar ON ar.replica_id = drs.replica_id ' +
        'JOIN sys.availability_groups AS ag ON ag.group_id = drs.group_id ' +
        'LEFT JOIN sys.dm_hadr_database_replica_cluster_states AS drcs ON drcs.replica_id = drs.replica_id AND drcs.group_database_id = drs.group_database_id ' +
        'GROUP BY ag.name, ar.replica_server_name')
}

function Invoke-LocalSqlNonQuery {
    # Runs one statement against the local instance (SqlClient, integrated security). The statement
    # is built by the operation from validated names, every identifier and literal quoted.
    param([Parameter(Mandatory = $true)][string]$Instance, [Parameter(Mandatory = $true)][string]$CommandText)
    $builder = New-Object -TypeName System.Data.SqlClient.SqlConnectionStringBuilder
    if ($Instance -eq 'MSSQLSERVER') { $builder.DataSource = '(local)' } else { $builder.DataSource = '(local)\' + $Instance }
    $builder.IntegratedSecurity = $true
    $builder.ConnectTimeout = 15
    $builder.ApplicationName = 'AutoDBAudit'
    $connection = New-Object -TypeName System.Data.SqlClient.SqlConnection -ArgumentList $builder.ConnectionString
    try {
        $connection.Open()
        $command = $connection.CreateCommand()
        # A planned failover waits for the secondary to take over; SQL Server's own limit applies.
        $command.CommandTimeout = 600
        $command.CommandText = $CommandText
        [void]$command.ExecuteNonQuery()
    } finally {
        $connection.Dispose()
    }
}

function Get-SqlClusterGroup {
    # The cluster group that holds the instance's SQL Server resource (FailoverClusters module); the
    # cmdlets answer on any node, so this runs on a node, never through the moving virtual name.
    param([Parameter(Mandatory = $true)][string]$Instance)
    Import-Module -Name FailoverClusters -ErrorAction Stop
    $resource = @(Get-ClusterResource | Where-Object { $_.ResourceType.Name -eq 'SQL Server' } | Where-Object {
            [string](Get-ClusterParameter -InputObject $_ -Name 'InstanceName').Value -eq $Instance
        })
    if ($resource.Count -ne 1) {
        throw (New-OperationException -Type 'ClusterRoleNotFound' -Message ('no single SQL Server cluster resource for instance {0} (found {1})' -f $Instance, $resource.Count))
    }
    return $resource[0].OwnerGroup
}

function Get-SqlClusterRoleOwner {
    # The node that owns the instance's cluster group now.
    param([Parameter(Mandatory = $true)][string]$Instance)
    return [string](Get-SqlClusterGroup -Instance $Instance).OwnerNode.Name
}

function Move-SqlClusterRole {
    # Move-ClusterGroup to the node; returns the node that owns the group afterwards.
    param([Parameter(Mandatory = $true)][string]$Instance, [Parameter(Mandatory = $true)][string]$Node)
    $group = Get-SqlClusterGroup -Instance $Instance
    $moved = Move-ClusterGroup -Name $group.Name -Node $Node -ErrorAction Stop
    return [string]$moved.OwnerNode.Name
}
