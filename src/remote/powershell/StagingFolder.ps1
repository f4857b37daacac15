# The staging folder: created by the tool with an ACL that only SYSTEM and Administrators can write
# (protected, nothing inherited), and checked when it is already there, because an installer or a
# wrapper script that someone else can replace between staging and start would run as SYSTEM.
# Reading and writing the ACL are surfaces (Get-DirectorySecurityFacts, New-ProtectedDirectory);
# what counts as safe is decided here. Windows PowerShell 5.1 compatible.

# Well-known SIDs: LocalSystem, BUILTIN\Administrators and NT SERVICE\TrustedInstaller (which owns
# system folders such as a drive's root), the only principals that may own the folder or its parent,
# or hold write rights on them.
function Get-TrustedStagingSid {
    return @('S-1-5-18', 'S-1-5-32-544', 'S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464')
}

# FileSystemRights bits that let a principal change what lies in the folder: WriteData/CreateFiles,
# AppendData/CreateDirectories, WriteExtendedAttributes, DeleteSubdirectoriesAndFiles, WriteAttributes,
# Delete, ChangePermissions, TakeOwnership, and the generic GENERIC_ALL and GENERIC_WRITE.
function Get-StagingWriteRightsMask {
    return [long](0x2 -bor 0x4 -bor 0x10 -bor 0x40 -bor 0x100 -bor 0x10000 -bor 0x40000 -bor 0x80000 -bor 0x10000000 -bor 0x40000000)
}

# On the parent, what lets a principal remove or rename the staging folder itself (and put another in
# its place): DeleteSubdirectoriesAndFiles, ChangePermissions, TakeOwnership, GENERIC_ALL.
function Get-ParentReplaceRightsMask {
    return [long](0x40 -bor 0x40000 -bor 0x80000 -bor 0x10000000)
}

function Get-StagingFolderProblem {
    # Why a folder with these security facts must not hold installers, or $null when it may.
    param(
        [Parameter(Mandatory = $true)][System.Collections.IDictionary]$Facts,
        [string]$What = 'it',
        [long]$RightsMask = (Get-StagingWriteRightsMask),
        [string]$Doing = 'can write to'
    )
    $problems = New-Object -TypeName 'System.Collections.Generic.List[string]'
    if ((Get-TrustedStagingSid) -notcontains [string]$Facts['ownerSid']) {
        $problems.Add(('{0} is owned by {1}, not by SYSTEM or Administrators' -f $What, (Get-PrincipalLabel -Name $Facts['owner'] -Sid $Facts['ownerSid'])))
    }
    $writers = New-Object -TypeName 'System.Collections.Generic.List[string]'
    foreach ($rule in @($Facts['rules'])) {
        if ($null -eq $rule -or [string]$rule['type'] -ne 'Allow' -or [bool]$rule['inheritOnly']) { continue }
        if ((Get-TrustedStagingSid) -contains [string]$rule['sid']) { continue }
        if (([long]$rule['rights'] -band $RightsMask) -eq 0) { continue }
        $label = Get-PrincipalLabel -Name $rule['identity'] -Sid $rule['sid']
        if (-not $writers.Contains($label)) { $writers.Add($label) }
    }
    if ($writers.Count -gt 0) { $problems.Add(('{0} {1} {2}' -f ($writers -join ', '), $Doing, $What)) }
    if ($problems.Count -eq 0) { return $null }
    return ($problems -join '; ')
}

function Get-PrincipalLabel {
    param([AllowNull()][object]$Name, [AllowNull()][object]$Sid)
    if (-not [string]::IsNullOrEmpty([string]$Name) -and [string]$Name -ne [string]$Sid) { return ('{0} ({1})' -f $Name, $Sid) }
    return [string]$Sid
}

function Initialize-StagingFolder {
    # Creates the staging folder with its protected ACL when it is missing; checks its owner and who
    # can write to it when it is there. Returns path, created, owner and problem ($null when safe).
    param([Parameter(Mandatory = $true)][string]$Path)
    $created = $false
    $facts = Get-DirectorySecurityFacts -Path $Path
    if ($null -eq $facts) {
        New-ProtectedDirectory -Path $Path
        $created = $true
        # Read back: what counts is the ACL the folder has, not the one that was asked for.
        $facts = Get-DirectorySecurityFacts -Path $Path
        if ($null -eq $facts) {
            throw (New-OperationException -Type 'StagingFolderUnsafe' -Message ('the staging folder "{0}" could not be created' -f $Path))
        }
    }
    $problem = Get-StagingFolderProblem -Facts $facts
    # Whoever may delete entries of the parent can swap the whole folder for one of their own.
    # Split by hand: the test bed's operations see POSIX paths, Windows ones see C:\..., and .NET on
    # each knows only its own separator.
    $trimmed = $Path.TrimEnd('\', '/')
    $cut = $trimmed.LastIndexOfAny([char[]]@('\', '/'))
    $parent = $null
    if ($cut -gt 0) { $parent = $trimmed.Substring(0, $cut) }
    if ($null -ne $parent -and $parent -notmatch '^[A-Za-z]:$') {
        $parentFacts = Get-DirectorySecurityFacts -Path $parent
        if ($null -ne $parentFacts) {
            $parentProblem = Get-StagingFolderProblem -Facts $parentFacts -What ('its parent "{0}"' -f $parent) -RightsMask (Get-ParentReplaceRightsMask) -Doing 'can delete or rename folders in'
            if ($null -ne $parentProblem) { $problem = (@($problem, $parentProblem) | Where-Object { $null -ne $_ }) -join '; ' }
        }
    }
    return [ordered]@{
        path    = $Path
        created = $created
        owner   = (Get-PrincipalLabel -Name $facts['owner'] -Sid $facts['ownerSid'])
        problem = $problem
    }
}

function Assert-StagingFolderSafe {
    # For operations that write into the folder: an unsafe folder stops them with a message naming it.
    param([Parameter(Mandatory = $true)][string]$Path)
    $folder = Initialize-StagingFolder -Path $Path
    if ($null -ne $folder['problem']) {
        throw (New-OperationException -Type 'StagingFolderUnsafe' -Message (Format-StagingFolderRefusal -Folder $folder))
    }
    return $folder
}

function Format-StagingFolderRefusal {
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Folder)
    return ('the staging folder "{0}" is not safe to run installers from: {1}. Remove it (the tool creates it again with an ACL for SYSTEM and Administrators only) or give it such an ACL and owner' -f $Folder['path'], $Folder['problem'])
}
