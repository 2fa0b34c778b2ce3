package api

import (
	"net/http"

	"github.com/kumo-iot/kumo"
)

func init() {
	// The errors of Thing-IF states and configuration.
	for code, et := range map[kumo.Code]errorType{
		kumo.ErrTargetNotFound:           {http.StatusNotFound, "TargetNotFoundException"},
		kumo.ErrStateNotFound:            {http.StatusNotFound, "StateNotFoundException"},
		kumo.ErrStateHistoryNotAvailable: {http.StatusConflict, "StateHistoryNotAvailableException"},
		kumo.ErrEmptyBody:                {http.StatusBadRequest, "EmptyBodyException"},
		kumo.ErrThingTypeNotFound:        {http.StatusNotFound, "ThingTypeNotFoundException"},
		kumo.ErrFirmwareVersionNotFound:  {http.StatusNotFound, "FirmwareVersionNotFoundException"},
		kumo.ErrTraitNotFound:            {http.StatusNotFound, "TraitNotFoundException"},
		kumo.ErrTraitVersionNotFound:     {http.StatusNotFound, "TraitVersionNotFoundException"},
		kumo.ErrTraitVersionFinalized:    {http.StatusConflict, "TraitVersionFinalizedException"},
		kumo.ErrTraitVersionOpen:         {http.StatusConflict, "TraitVersionNotFinalizedException"},
		kumo.ErrTraitAliasNotFound:       {http.StatusNotFound, "TraitAliasNotFoundException"},
		kumo.ErrTraitAliasExists:         {http.StatusConflict, "TraitAliasAlreadyExistsException"},
	} {
		errorTable[code] = et
	}
}
