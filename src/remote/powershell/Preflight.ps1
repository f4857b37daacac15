# Operation "preflight": the facts the orchestrator weighs before patching a host: free space, pending
# reboot, Windows Installer busy, the instances' services, and optionally the staged installer's
# Authenticode signature; it creates the staging folder protected, or checks the one that is there. Windows PowerShell 5.1 compatible.

function Get-PendingRebootReasons {
    param([Parameter(Mandatory = $true)][bool]$IgnorePendingFileRename)
    $reasons = New-Object -TypeName 'System.Collections.Generic.List[string]'
    if ($null -ne (Get-RegistryKeyValues -Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending')) {
        $reasons.Add('Component Based Servicing: RebootPending')
    }
    if ($null -ne (Get-RegistryKeyValues -Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired')) {
        $reasons.Add('Windows Update: RebootRequired')
    }
    # Many systems carry PendingFileRenameOperations permanently (antivirus, drivers), hence the option.
    if (-not $IgnorePendingFileRename) {
        $sessionManager = Get-RegistryKeyValues -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager'
        if ($null -ne $sessionManager) {
            $renames = @($sessionManager['PendingFileRenameOperations'] | Where-Object { -not [string]::IsNullOrEmpty([string]$_) })
            if ($renames.Count -gt 0) { $reasons.Add('Session Manager: PendingFileRenameOperations') }
        }
    }
    return , $reasons.ToArray()
}

function Get-WmiProcessCreationRuleMode {
    # Defender's attack surface reduction rule "Block process creations originating from PSExec and
    # WMI commands" (d1e49aac-8f56-4280-b9ba-993a6d77406c): block, warn, audit or off as configured;
    # $null when Defender does not report it (not configured, or no Defender).
    $ruleId = 'd1e49aac-8f56-4280-b9ba-993a6d77406c'
    foreach ($rule in @(Get-AttackSurfaceReductionRules)) {
        if ($null -eq $rule -or [string]$rule['id'] -ne $ruleId) { continue }
        switch ([int]$rule['action']) {
            0 { return 'off' }
            1 { return 'block' }
            2 { return 'audit' }
            6 { return 'warn' }
            default { return ('action {0}' -f $rule['action']) }
        }
    }
    return $null
}

function Invoke-PreflightOperation {
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Arguments)
    $stagingDir = [string](Get-OperationArgument -Arguments $Arguments -Name 'stagingDir')
    $instanceArgument = Get-OperationArgument -Arguments $Arguments -Name 'instances' -Optional -Default @()
    $instances = @($instanceArgument)
    $ignorePendingFileRename = [bool](Get-OperationArgument -Arguments $Arguments -Name 'ignorePendingFileRename' -Optional -Default $false)
    $installerPath = Get-OperationArgument -Arguments $Arguments -Name 'installerPath' -Optional

    # Created protected when missing, checked when there: the orchestrator refuses the host on a problem.
    $stagingFolder = Initialize-StagingFolder -Path $stagingDir
    $services = New-Object -TypeName 'System.Collections.Generic.List[object]'
    foreach ($instance in $instances) {
        foreach ($service in (Get-SqlInstanceServices -Instance ([string]$instance))) { $services.Add($service) }
    }
    $authenticode = $null
    if ($null -ne $installerPath) {
        if (-not (Test-Path -LiteralPath ([string]$installerPath) -PathType Leaf)) {
            throw (New-OperationException -Type 'FileNotFound' -Message ('the installer "{0}" is not on the host' -f $installerPath))
        }
        $authenticode = Get-AuthenticodeInfo -Path ([string]$installerPath)
    }
    return [ordered]@{
        stagingFreeBytes = Get-VolumeFreeBytes -Path $stagingDir
        systemFreeBytes  = Get-VolumeFreeBytes -Path (Get-SystemDriveRoot)
        pendingReboot    = Get-PendingRebootReasons -IgnorePendingFileRename $ignorePendingFileRename
        installerBusy    = [bool](Test-WindowsInstallerBusy)
        services         = $services.ToArray()
        authenticode     = $authenticode
        stagingFolder    = $stagingFolder
        asrWmiRule       = (Get-WmiProcessCreationRuleMode)
    }
}
