# What discovery and the build query both read about a SQL Server instance: its services and the
# registry's record of its setup. Windows PowerShell 5.1 compatible; Windows-only calls go through
# the surfaces file.

function Get-SqlInstanceServiceNames {
    param([Parameter(Mandatory = $true)][string]$Instance)
    if ($Instance -eq 'MSSQLSERVER') { return [ordered]@{ engine = 'MSSQLSERVER'; agent = 'SQLSERVERAGENT' } }
    return [ordered]@{ engine = 'MSSQL$' + $Instance; agent = 'SQLAgent$' + $Instance }
}

function Get-SqlInstanceServices {
    # The engine and agent services of an instance; a service that does not exist is reported as
    # "NotFound" (Express editions have no agent) rather than left out.
    param([Parameter(Mandatory = $true)][string]$Instance)
    $names = Get-SqlInstanceServiceNames -Instance $Instance
    $services = New-Object -TypeName 'System.Collections.Generic.List[object]'
    foreach ($name in @($names['engine'], $names['agent'])) {
        $state = Get-ServiceStatus -Name $name
        if ($null -eq $state) { $state = 'NotFound' }
        $services.Add([ordered]@{ name = $name; state = $state })
    }
    return , $services.ToArray()
}

function Get-SqlRegistryRoots {
    # 64-bit instances register under SOFTWARE; 32-bit ones on a 64-bit Windows under WOW6432Node.
    return @('HKLM:\SOFTWARE\Microsoft\Microsoft SQL Server\', 'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Microsoft SQL Server\')
}

function Get-SqlInstanceIds {
    # Instance name -> instance id ("MSSQLSERVER" -> "MSSQL15.MSSQLSERVER") as setup registers them,
    # 64-bit instances first; a 32-bit instance of the same name does not replace a 64-bit one.
    $ids = [ordered]@{}
    foreach ($root in (Get-SqlRegistryRoots)) {
        $names = Get-RegistryKeyValues -Path ($root + 'Instance Names\SQL')
        if ($null -eq $names) { continue }
        foreach ($name in @($names.Keys)) {
            if (-not $ids.Contains($name)) { $ids[$name] = $names[$name] }
        }
    }
    return $ids
}

function Get-SqlInstanceKey {
    # The registry key of an instance id: under SOFTWARE, or under WOW6432Node for a 32-bit instance.
    param([Parameter(Mandatory = $true)][string]$InstanceId)
    foreach ($root in (Get-SqlRegistryRoots)) {
        if ($null -ne (Get-RegistryKeyValues -Path ($root + $InstanceId + '\Setup'))) { return ($root + $InstanceId) }
    }
    return ((Get-SqlRegistryRoots)[0] + $InstanceId)
}

function Get-FirstPresent {
    param([AllowNull()][object[]]$Candidates)
    foreach ($candidate in $Candidates) {
        if ($null -ne $candidate -and -not [string]::IsNullOrWhiteSpace([string]$candidate)) { return [string]$candidate }
    }
    return $null
}

function Get-SqlInstanceRegistryFacts {
    # The build as the files and the registry tell it, which is what a stopped instance can offer.
    param(
        [Parameter(Mandatory = $true)][string]$Instance,
        [Parameter(Mandatory = $true)][string]$InstanceId
    )
    $instanceKey = Get-SqlInstanceKey -InstanceId $InstanceId
    $setup = Get-RegistryKeyValues -Path ($instanceKey + '\Setup')
    if ($null -eq $setup) { $setup = [ordered]@{} }
    $binRoot = Get-FirstPresent -Candidates @($setup['SQLBinRoot'])
    $fileVersion = $null
    # Registry paths are Windows paths, so the file name is joined with a backslash on every OS.
    if ($null -ne $binRoot) { $fileVersion = Get-FileProductVersion -Path ($binRoot.TrimEnd('\') + '\sqlservr.exe') }
    $productLevel = $null
    if ($null -ne $setup['SP']) {
        $servicePack = [int]$setup['SP']
        if ($servicePack -gt 0) { $productLevel = 'SP' + $servicePack } else { $productLevel = 'RTM' }
    }
    $clusterVirtualName = $null
    $clusterKey = Get-RegistryKeyValues -Path ($instanceKey + '\Cluster')
    if ($null -ne $clusterKey) { $clusterVirtualName = Get-FirstPresent -Candidates @($clusterKey['ClusterName']) }
    $setupPatchLevel = Get-FirstPresent -Candidates @($setup['PatchLevel'])
    $setupVersion = Get-FirstPresent -Candidates @($setup['Version'])
    return [ordered]@{
        instance            = $Instance
        instanceId          = $InstanceId
        # The executable's version moves first when a patch lands; PatchLevel is setup's own record.
        build               = Get-FirstPresent -Candidates @($fileVersion, $setupPatchLevel, $setupVersion)
        sqlservrFileVersion = $fileVersion
        setupPatchLevel     = $setupPatchLevel
        setupVersion        = $setupVersion
        edition             = Get-FirstPresent -Candidates @($setup['Edition'])
        productLevel        = $productLevel
        clusterVirtualName  = $clusterVirtualName
    }
}
